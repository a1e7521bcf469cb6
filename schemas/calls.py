"""One line of calls.jsonl: a recorded model exchange, the run's checkpoint and cassette."""

from typing import Any

from pydantic import Field

from synthgen.schemas.base import StrictModel
from synthgen.schemas.manifest import TokenUsage


class CallRecord(StrictModel):
    key: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the normalized request.")
    model: str
    stage: str = Field(description="Pipeline stage that made the call: extract, design, write, supervise.")
    item: str = Field(description="What the call was for, e.g. 'example for test case tc_…'.")
    response: dict[str, Any] = Field(description="The pydantic-ai ModelResponse, as JSON.")
    usage: TokenUsage
    checksum: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="sha256 of key + response, so an edited record is never replayed."
    )
