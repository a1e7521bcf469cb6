"""One line of calls.jsonl: a recorded model exchange, the run's checkpoint and cassette."""

from dataclasses import dataclass
from typing import Any

from pydantic import Field

from synthgen.schemas.base import StrictModel
from synthgen.schemas.manifest import TokenUsage


class CallRequest(StrictModel):
    """What was asked, as hashed into the record's key: enough to read the exact prompt offline."""

    messages: list[dict[str, Any]] = Field(
        description="The pydantic-ai ModelMessage list sent, as JSON, without timestamps and generated IDs."
    )
    output_schema: str | None = Field(description="Name of the output type the answer must fit, e.g. 'UseCaseDraft'.")
    tools: list[str] = Field(description="Names of the function tools the model could call.")
    settings: dict[str, Any] = Field(description="Model settings sent (temperature, seed, max_tokens, ...).")


class CallRecord(StrictModel):
    key: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the normalized request.")
    model: str
    stage: str = Field(description="Pipeline stage that made the call: extract, design, write, supervise.")
    item: str = Field(description="What the call was for, e.g. 'example for test case tc_…'.")
    request: CallRequest | None = Field(
        default=None, description="The request itself; absent in records written before synthgen kept it."
    )
    response: dict[str, Any] = Field(description="The pydantic-ai ModelResponse, as JSON.")
    usage: TokenUsage
    checksum: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="sha256 of key + response (+ request when present), so an edited record is never replayed.",
    )


@dataclass(frozen=True)
class CallEntry:
    """One model call as the run's cost ledger counts it, made or replayed. A durable step returns the
    calls it made, so the process that writes the manifest counts those made in other processes too."""

    key: str
    stage: str
    item: str
    agent: str
    model: str
    usage: TokenUsage
    replayed: bool
