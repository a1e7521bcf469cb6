"""What the agents answer. Drafts carry no IDs: the ID allocator assigns them after the gates.

Every list and string has an upper bound. Besides keeping answers focused, the bounds become part
of the JSON Schema that constrained decoding enforces, so a small model that starts repeating
itself is stopped by the grammar instead of running until its token limit.
"""

from typing import Annotated, Literal

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from synthgen.schemas.base import StrictModel
from synthgen.schemas.items import Evidence, Message, PolicyKind, Strength

# What the deterministic repairs (tools/repairs.py) changed in an accepted answer, counted under the
# names of the manifest's stage notes. The agent's output validator sets it; the model never sees it
# (it is not in the JSON schema, so requests stay the same) and it is never dumped.
Repairs = Annotated[dict[str, int], SkipJsonSchema(), Field(default_factory=dict, exclude=True)]


class EvidenceDraft(Evidence):
    # A supporting passage is usually one sentence; a longer quote is a model stitching passages
    # together, and the grammar cuts it where the evidence repair can keep its verbatim words.
    quote: str = Field(min_length=1, max_length=500, description="Verbatim text found inside the cited lines.")


# Why a candidate states no rule: the model's reason codes, kept in the run's decisions file.
ModelNotRuleReason = Literal["heading", "example", "rationale", "definition_only", "description", "other"]
# The largest number a batch shows; the batch builder (tools/batches.py) never exceeds it.
MAX_BATCH_CANDIDATES = 40


class RuleDraft(StrictModel):
    kind: PolicyKind
    strength: Strength = Field(description="must (also must not / never), should, or may.")
    statement: str = Field(
        max_length=400,
        description="The rule as one sentence that reads alone; empty when the candidate's own text already does.",
    )
    conditions: list[Annotated[str, Field(max_length=160)]] = Field(
        default_factory=list, max_length=4, description="When the rule applies; empty when it always does."
    )
    binds: str = Field(default="", max_length=60, description="Who must follow the rule.")


class CandidateDecision(StrictModel):
    n: int = Field(ge=1, le=MAX_BATCH_CANDIDATES, description="The candidate's number as shown.")
    is_rule: bool
    reason: ModelNotRuleReason | Literal["rule"] = Field(description="rule, or why the candidate states no rule.")
    rules: list[RuleDraft] = Field(
        default_factory=list, max_length=4, description="For a rule: one entry per separate rule it states."
    )


class DecisionsDraft(StrictModel):
    """The extraction agent's answer: one decision per candidate it was shown."""

    decisions: list[CandidateDecision] = Field(max_length=MAX_BATCH_CANDIDATES)


class SituationDraft(StrictModel):
    n: int = Field(ge=1, le=MAX_BATCH_CANDIDATES, description="The heading's number as shown.")
    situation: bool = Field(description="Whether the heading names a situation someone brings to the system.")
    actor: str = Field(default="", max_length=60, description="Who is in that situation.")
    goal: str = Field(default="", max_length=200, description="What they want.")


class SituationsDraft(StrictModel):
    """The use-case agent's answer: one entry per heading it was shown."""

    headings: list[SituationDraft] = Field(max_length=MAX_BATCH_CANDIDATES)


# The most rules the designer is shown per document, numbered from 1; a value names them by number.
MAX_DESIGN_RULES = 200


class ValueDraft(StrictModel):
    value: str = Field(min_length=1, max_length=120, description="One situation the user can be in, as a short phrase.")
    triggers: list[Annotated[int, Field(ge=1, le=MAX_DESIGN_RULES)]] = Field(
        default_factory=list, max_length=12, description="Numbers of the rules that apply in this situation."
    )
    not_applicable: list[Annotated[int, Field(ge=1, le=MAX_DESIGN_RULES)]] = Field(
        default_factory=list, max_length=12, description="Numbers of the rules that do not apply in this situation."
    )


class AxisDraft(StrictModel):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="snake_case name of the variation axis.")
    values: list[ValueDraft] = Field(min_length=2, max_length=6, description="Mutually exclusive values.")
    rationale: str = Field(max_length=300, description="Which rule's condition changes across the values.")


class DesignDraft(StrictModel):
    axes: list[AxisDraft] = Field(max_length=6)
    repairs: Repairs


class CriterionDraft(StrictModel):
    criterion: str = Field(min_length=1, max_length=500, description="A checkable statement about a good answer.")
    policy_id: str = Field(description="pol_ id of one of the test case's deciding rules.")
    evidence: list[EvidenceDraft] = Field(min_length=1, max_length=4)


class ExampleDraft(StrictModel):
    messages: list[Message] = Field(
        min_length=1, max_length=10, description="The conversation so far; the last turn is the user's."
    )
    expected_output: str = Field(
        min_length=1, max_length=2000, description="The reply a policy-following assistant gives next."
    )
    extra_criteria: list[CriterionDraft] = Field(
        default_factory=list, max_length=3, description="Optional: checks the rule-built criteria do not make."
    )
    repairs: Repairs


Decision = Literal["accept", "revise", "reject"]
ReviewCheck = Literal["outcome", "criteria", "conversation", "axis_values"]
REVIEW_CHECKS: tuple[ReviewCheck, ...] = ("outcome", "criteria", "conversation", "axis_values")


class CheckVerdict(StrictModel):
    check: ReviewCheck = Field(
        description="outcome: the expected output reaches the expected outcome under the deciding rules; "
        "criteria: each criterion can be marked pass or fail from a reply alone; "
        "conversation: realistic and specific; axis_values: every value of the situation is plain in the conversation."
    )
    ok: bool
    why: str = Field(min_length=1, max_length=240, description="One line: what you saw that decides it.")


class Verdict(StrictModel):
    item_id: str = Field(description="ex_ id of the reviewed example.")
    checks: list[CheckVerdict] = Field(default_factory=list, max_length=4, description="One per check, in order.")
    decision: Decision
    instruction: str = Field(default="", max_length=600, description="For revise: what the writer must change.")
    reason_code: str = Field(
        default="",
        # One anchored group, not an alternation: llama.cpp's grammar converter cannot enforce the latter.
        pattern=r"^([a-z][a-z0-9_]*)?$",
        description="For reject: a snake_case reason.",
    )


class SupervisorReview(StrictModel):
    verdicts: list[Verdict] = Field(max_length=20)
