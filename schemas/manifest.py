"""The run manifest: what went in, what came out, and what happened in between."""

from collections import Counter
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, PlainSerializer

from synthgen.schemas.base import StrictModel
from synthgen.schemas.outcomes import ContrastPair, Outcome

# Exact sums in memory (the order concurrent calls finish in cannot change a total), a number in JSON.
Usd = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]

STAGES = ("extract", "design", "write", "supervise")


class InputDocument(StrictModel):
    id: str
    path: str = Field(description="The path as given on the command line.")
    absolute_path: str | None = Field(
        default=None, description="The same path made absolute, so the run can be checked from any directory."
    )
    sha256: str
    encoding: str
    line_ending: str
    lines: int


class RunConfig(StrictModel):
    model: str = Field(description="Resolved model name, e.g. openai-chat:gpt-4o-2024-08-06.")
    base_url: str | None = Field(
        default=None,
        description="Where the model was served (--base-url) in the latest invocation, any password masked. "
        "Not part of the run ID: the same model on another port is the same run.",
    )
    demo_quality: bool = Field(
        default=False, description="Made with the embedded local model: for demos and offline tests, not production."
    )
    seed: int
    temperature: float
    max_examples: int | None
    concurrency: int
    max_revisions: int
    window_tokens: int
    strength: int = Field(description="Covering-array strength: 2 = every pair of axis values.")


class PromptVersion(StrictModel):
    name: str
    version: int
    sha256: str


class TokenUsage(StrictModel):
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Usd | None = Field(
        default=Decimal(0),
        description="List-price cost in USD of the priced requests, from genai-prices (offline). "
        "null when no request has a known price: unpriced, never $0.",
    )
    unpriced_requests: int = Field(
        default=0, description="Requests whose model has no known price; their cost is not in cost_usd."
    )

    def __add__(self, other: "TokenUsage") -> "TokenUsage":
        requests = self.requests + other.requests
        unpriced = self.unpriced_requests + other.unpriced_requests
        cost = (self.cost_usd or Decimal(0)) + (other.cost_usd or Decimal(0))
        return TokenUsage(
            requests=requests,
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cost_usd=None if requests and unpriced == requests else cost,
            unpriced_requests=unpriced,
        )


class CallCost(StrictModel):
    """One model request of the run, replayed or live: what it was for and what it costs at list price."""

    key: str = Field(description="Request hash: the key of its record in calls.jsonl.")
    stage: str
    item: str
    agent: str
    model: str = Field(description="The model that answered, as its response names it.")
    input_tokens: int
    output_tokens: int
    cost_usd: Usd | None = Field(description="null when the model has no known price.")


class PricingInfo(StrictModel):
    source: str = Field(description="Price table used for cost_usd, e.g. genai-prices.")
    version: str


class StageReport(StrictModel):
    requested: int = 0
    accepted: int = 0
    rejected: int = 0
    reasons: dict[str, int] = Field(default_factory=dict, description="Reason code -> count of rejected items.")
    notes: dict[str, int] = Field(
        default_factory=dict, description="Counted events that did not reject an item, e.g. merged duplicates."
    )
    usage: TokenUsage = Field(default_factory=TokenUsage)

    @classmethod
    def tally(
        cls,
        requested: int,
        accepted: int,
        reasons: Mapping[str, int] | None = None,
        notes: Mapping[str, int] | None = None,
    ) -> "StageReport":
        """A report from what a stage's items came to: every rejected item has a reason code."""
        reasons, notes = reasons or {}, notes or {}
        return cls(
            requested=requested,
            accepted=accepted,
            rejected=sum(reasons.values()),
            reasons={code: n for code, n in reasons.items() if n},
            notes={event: n for event, n in notes.items() if n},
        )

    def __add__(self, other: "StageReport") -> "StageReport":
        return StageReport(
            requested=self.requested + other.requested,
            accepted=self.accepted + other.accepted,
            rejected=self.rejected + other.rejected,
            reasons=dict(Counter(self.reasons) + Counter(other.reasons)),
            notes=dict(Counter(self.notes) + Counter(other.notes)),
            usage=self.usage + other.usage,
        )


class AxisCoverage(StrictModel):
    name: str
    values: list[str]


class CoverageReport(StrictModel):
    """One document's coverage by what was written (accepted examples), against what was designed."""

    document_id: str
    strength: int
    axes: list[AxisCoverage]
    test_cases_designed: int
    examples_written: int
    interactions_total: int = Field(description="Value combinations (use case + `strength` values) the design shows.")
    interactions_covered: int = Field(description="Of those, the ones a written example shows.")
    rules: int
    rules_covered: int = Field(description="Rules that decide at least one written example.")
    contrast_rules: int = Field(
        description="Conditional rules an axis reaches, for which a contrast pair was designed."
    )
    contrast_pairs_written: int = Field(description="Designed contrast pairs whose two examples were both written.")


UncoveredReason = Literal["budget", "rejected", "not_designed"]


class RuleCoverage(StrictModel):
    """One rule: the written examples it decides and their outcomes, or why none was written."""

    policy_id: str
    document_id: str
    examples: list[str]
    outcomes: list[Outcome]
    contrast_pair: bool = Field(description="Both examples of a contrast pair for this rule were written.")
    uncovered: UncoveredReason | None = Field(
        default=None,
        description="budget: its test cases were over --max-examples; rejected: their examples were rejected; "
        "not_designed: no test case has it (its document's design failed).",
    )


class OutputFile(StrictModel):
    name: str
    sha256: str
    records: int


class LineSpan(StrictModel):
    policy_id: str
    line_start: int
    line_end: int


class LineageEntry(StrictModel):
    example_id: str
    test_case_id: str
    use_case_id: str
    document_id: str
    policy_ids: list[str]
    lines: list[LineSpan]


class CallCounts(StrictModel):
    """Model requests this run sent (live: money spent now) and answered from calls.jsonl (replayed: free)."""

    live: TokenUsage
    replayed: TokenUsage


class VolatileInfo(StrictModel):
    """Facts that differ on every run of the same inputs; kept apart so the rest can be compared."""

    started_at: str
    finished_at: str
    stage_seconds: dict[str, float]
    calls: CallCounts
    max_cost_usd: float | None = Field(default=None, description="--max-cost of this invocation, if any.")


class RunBinding(StrictModel):
    """run.json: what a run directory was made for, so it is never reused for other inputs."""

    run_id: str
    inputs: list[InputDocument]
    config: RunConfig


class RunManifest(StrictModel):
    schema_version: int = 1
    run_id: str
    tool_version: str
    inputs: list[InputDocument]
    config: RunConfig
    prompts: list[PromptVersion]
    stages: dict[str, StageReport]
    usage_by_model: dict[str, TokenUsage]
    usage_by_agent: dict[str, TokenUsage] = Field(default_factory=dict)
    calls: list[CallCost] = Field(default_factory=list, description="Every model request, replayed or live.")
    pricing: PricingInfo | None = None
    coverage: list[CoverageReport]
    rule_coverage: list[RuleCoverage] = Field(default_factory=list)
    contrast_pairs: list[ContrastPair] = Field(default_factory=list, description="Designed pairs both written.")
    outputs: list[OutputFile]
    lineage: list[LineageEntry]
    volatile: VolatileInfo
