"""One line of trace.jsonl: a finished span of a run, as `synthgen trace` reads it back."""

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from synthgen.schemas.base import StrictModel

# OpenTelemetry attribute values: a string, number or bool, or a list of one of them.
Attributes = dict[str, Any]


class SpanException(StrictModel):
    type: str | None
    message: str | None


class SpanLink(StrictModel):
    span_id: str = Field(pattern=r"^[0-9a-f]{16}$")
    attributes: Attributes = Field(default_factory=dict)


class TraceSpan(StrictModel):
    trace_id: str = Field(pattern=r"^[0-9a-f]{32}$", description="One trace per invocation of `synthgen agent run`.")
    span_id: str = Field(pattern=r"^[0-9a-f]{16}$")
    parent_id: str | None = Field(pattern=r"^[0-9a-f]{16}$", description="None for the run's root span.")
    name: str
    start: datetime | None
    duration_ms: float | None
    status: Literal["ok", "error"]
    attributes: Attributes = Field(
        description="synthgen.* attributes, and pydantic-ai's gen_ai.* ones without message contents."
    )
    error: str | None = Field(default=None, description="The status message of a failed span.")
    exceptions: list[SpanException] = Field(default_factory=list)
    links: list[SpanLink] = Field(default_factory=list)
