"""Results of the deterministic gates that every item passes before it is accepted."""

from pydantic import Field

from synthgen.schemas.base import StrictModel


class GateFinding(StrictModel):
    item_id: str
    gate: str = Field(description="Which gate: schema, evidence, criteria_policy, duplicate, lineage, ...")
    reason_code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    message: str


class GateReport(StrictModel):
    checked: list[str] = Field(description="IDs of the items the gates looked at.")
    findings: list[GateFinding]
