"""What the agents answer. Drafts carry no IDs: the ID allocator assigns them after the gates.

Every list and string has an upper bound. Besides keeping answers focused, the bounds become part
of the JSON Schema that constrained decoding enforces, so a small model that starts repeating
itself is stopped by the grammar instead of running until its token limit.
"""

from typing import Annotated, Literal

from pydantic import ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from synthgen.schemas.base import StrictModel
from synthgen.schemas.items import Evidence, Message, PolicyKind

# What the deterministic repairs (tools/repairs.py) changed in an accepted answer, counted under the
# names of the manifest's stage notes. The agent's output validator sets it; the model never sees it
# (it is not in the JSON schema, so requests stay the same) and it is never dumped.
Repairs = Annotated[dict[str, int], SkipJsonSchema(), Field(default_factory=dict, exclude=True)]


class EvidenceDraft(Evidence):
    # A supporting passage is usually one sentence; a longer quote is a model stitching passages
    # together, and the grammar cuts it where the evidence repair can keep its verbatim words.
    quote: str = Field(min_length=1, max_length=500, description="Verbatim text found inside the cited lines.")


class UseCaseDraft(StrictModel):
    name: str = Field(min_length=1, max_length=100, description="Short, unique name of the use case.")
    actor: str = Field(min_length=1, max_length=80, description="Who acts: customer, agent, developer, ...")
    goal: str = Field(min_length=1, max_length=300, description="What the actor wants to achieve.")
    description: str = Field(max_length=400)
    evidence: list[EvidenceDraft] = Field(min_length=1, max_length=4)


class PolicyDraft(StrictModel):
    statement: str = Field(
        min_length=1, max_length=500, description="The rule, restated as one self-contained sentence."
    )
    kind: PolicyKind
    conditions: list[str] = Field(
        default_factory=list, max_length=5, description="When the rule applies, if it is conditional."
    )
    applies_to: list[str] = Field(
        default_factory=list,
        max_length=12,
        description="Names of use cases in this answer that the rule governs; empty means all of them.",
    )
    evidence: list[EvidenceDraft] = Field(min_length=1, max_length=4)


class ExtractionDraft(StrictModel):
    use_cases: list[UseCaseDraft] = Field(max_length=12)
    policies: list[PolicyDraft] = Field(max_length=40)
    repairs: Repairs
    dropped: Annotated[int, SkipJsonSchema(), Field(default=0, exclude=True)]  # items nothing grounds, left out


class AxisDraft(StrictModel):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="snake_case name of the variation axis.")
    values: list[str] = Field(min_length=2, max_length=6, description="Distinct values this axis takes.")
    rationale: str = Field(max_length=400, description="Why behaviour changes along this axis.")
    policy_ids: list[str] = Field(
        min_length=1, max_length=40, description="pol_ ids of the policies this axis exercises."
    )


class DesignDraft(StrictModel):
    # The title is part of the output tool's JSON schema, so of every recorded request's key: kept.
    model_config = ConfigDict(extra="forbid", title="TestDesignDraft")

    axes: list[AxisDraft] = Field(min_length=1, max_length=6)
    repairs: Repairs


class CriterionDraft(StrictModel):
    criterion: str = Field(min_length=1, max_length=500, description="A checkable statement about a good answer.")
    policy_id: str = Field(description="pol_ id of one of the test case's policies.")
    evidence: list[EvidenceDraft] = Field(min_length=1, max_length=4)


class ExampleDraft(StrictModel):
    messages: list[Message] = Field(
        min_length=1, max_length=10, description="The conversation so far; the last turn is the user's."
    )
    expected_output: str = Field(
        min_length=1, max_length=2000, description="The reply a policy-following assistant gives next."
    )
    evaluation_criteria: list[CriterionDraft] = Field(min_length=1, max_length=10)
    repairs: Repairs


Decision = Literal["accept", "revise", "reject"]


class Verdict(StrictModel):
    item_id: str = Field(description="ex_ id of the reviewed example.")
    decision: Decision
    instruction: str = Field(default="", max_length=600, description="For revise: what the writer must change.")
    reason_code: str = Field(
        default="",
        # One anchored group, not an alternation: llama.cpp's grammar converter cannot enforce the latter.
        pattern=r"^([a-z][a-z0-9_]*)?$",
        description="For reject: snake_case reason, e.g. off_policy, wrong_expected_output.",
    )


class SupervisorReview(StrictModel):
    verdicts: list[Verdict] = Field(max_length=20)
