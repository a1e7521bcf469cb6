"""Items of a dataset: what the pipeline extracts, designs and writes."""

import re
from typing import Literal

from pydantic import Field, model_validator

from synthgen.schemas.base import StrictModel
from synthgen.schemas.document import DOCUMENT_ID
from synthgen.schemas.outcomes import DecidingRule, Outcome, ValueRule, tested_rule_ids

# The hex digits of an item ID (tools/ids.py): ten, more only where two keys share ten.
ID_DIGITS = "[0-9a-f]{10,64}"
ITEM_ID = re.compile(rf"\b(?:uc|pol|tc|ex)_{ID_DIGITS}\b")  # an item ID anywhere in a text

PolicyKind = Literal["obligation", "prohibition", "permission", "condition", "definition"]
Strength = Literal["must", "should", "may"]
Role = Literal["system", "user", "assistant"]
MAX_QUOTE_CHARS = 2000


class Evidence(StrictModel):
    line_start: int = Field(ge=1, description="First cited line, 1-based.")
    line_end: int = Field(ge=1, description="Last cited line, inclusive.")
    quote: str = Field(
        min_length=1, max_length=MAX_QUOTE_CHARS, description="Verbatim text found inside the cited lines."
    )

    @model_validator(mode="after")
    def _ordered(self) -> "Evidence":
        if self.line_end < self.line_start:
            raise ValueError(f"line_end {self.line_end} is before line_start {self.line_start}")
        return self


class UseCase(StrictModel):
    id: str = Field(pattern=rf"^uc_{ID_DIGITS}$")
    document_id: str = Field(pattern=DOCUMENT_ID)
    name: str = Field(min_length=1)
    actor: str = Field(min_length=1)
    goal: str = Field(min_length=1)
    description: str
    evidence: list[Evidence] = Field(min_length=1)


class Policy(StrictModel):
    id: str = Field(pattern=rf"^pol_{ID_DIGITS}$")
    document_id: str = Field(pattern=DOCUMENT_ID)
    statement: str = Field(min_length=1)
    kind: PolicyKind
    strength: Strength = Field(description="How binding the rule is: must (or must not), should, may.")
    conditions: list[str] = Field(default_factory=list)
    binds: str = Field(
        default="", description="Who the rule binds (the assistant, the customer, ...); empty if unsaid."
    )
    applies_to: list[str] = Field(description="Use case ids this policy governs (every one when applies_to_all).")
    applies_to_all: bool = Field(
        default=False,
        description="The rule governs every use case of its document: it sits in no section that names a "
        "situation, or in one that holds them all.",
    )
    evidence: list[Evidence] = Field(min_length=1)

    @property
    def wording(self) -> str:
        """The statement with its conditions: what the rule says, for the word tests of tools/."""
        return " ".join([self.statement, *self.conditions])


# The axis the orchestrator adds itself, whose values are a document's use cases: no designed axis may take it.
USE_CASE_AXIS = "use_case"


class Axis(StrictModel):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    values: list[str] = Field(min_length=2)
    rationale: str
    policy_ids: list[str] = Field(description="Policies whose behaviour changes along this axis.")
    rules: list[ValueRule] = Field(
        default_factory=list, description="For each value, the rules it triggers or makes inapplicable."
    )


class TestCase(StrictModel):
    id: str = Field(pattern=rf"^tc_{ID_DIGITS}$")
    document_id: str = Field(pattern=DOCUMENT_ID)
    use_case_id: str
    policy_ids: list[str] = Field(min_length=1, description="The deciding rules' ids.")
    axis_values: dict[str, str] = Field(description="Axis name -> chosen value.")
    scenario: str
    deciding_rules: list[DecidingRule] = Field(min_length=1)
    expected_outcome: Outcome = Field(description="Derived from the deciding rules by the documented precedence.")
    must: list[str] = Field(default_factory=list, description="What the reply must do.")
    must_not: list[str] = Field(default_factory=list, description="What the reply must not do.")
    expected_behaviour: str

    @property
    def tested_policy_ids(self) -> list[str]:
        """The deciding rules the case tests: not the prerequisites it takes as already met."""
        return tested_rule_ids(self.deciding_rules)


class Message(StrictModel):
    role: Role
    content: str = Field(min_length=1, max_length=4000)


class EvaluationCriterion(StrictModel):
    criterion: str = Field(min_length=1)
    policy_id: str
    evidence: list[Evidence] = Field(min_length=1)
    source: Literal["rule", "writer"] = Field(
        default="rule", description="rule: built from a deciding rule and the outcome; writer: added by the model."
    )


class ExampleMetadata(StrictModel):
    document_id: str
    use_case_id: str
    policy_ids: list[str]
    axis_values: dict[str, str]
    expected_outcome: Outcome
    revisions: int = Field(ge=0, description="How many times the supervisor loop sent this example back.")


class DatasetExample(StrictModel):
    id: str = Field(pattern=rf"^ex_{ID_DIGITS}$")
    test_case_id: str
    messages: list[Message] = Field(min_length=1)
    expected_output: str = Field(min_length=1)
    evaluation_criteria: list[EvaluationCriterion] = Field(min_length=1)
    metadata: ExampleMetadata
