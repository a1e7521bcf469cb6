from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Every contract forbids unknown fields, so a typo in a file or a model answer fails loudly."""

    model_config = ConfigDict(extra="forbid")
