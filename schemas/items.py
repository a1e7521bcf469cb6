"""Items of a dataset: what the pipeline extracts, designs and writes."""

from typing import Literal

from pydantic import Field, model_validator

from synthgen.schemas.base import StrictModel

PolicyKind = Literal["obligation", "prohibition", "permission", "condition", "definition"]
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
    id: str = Field(pattern=r"^uc_[0-9a-f]{10,64}$")
    document_id: str = Field(pattern=r"^doc_[0-9a-f]{12}$")
    name: str = Field(min_length=1)
    actor: str = Field(min_length=1)
    goal: str = Field(min_length=1)
    description: str
    evidence: list[Evidence] = Field(min_length=1)


class Policy(StrictModel):
    id: str = Field(pattern=r"^pol_[0-9a-f]{10,64}$")
    document_id: str = Field(pattern=r"^doc_[0-9a-f]{12}$")
    statement: str = Field(min_length=1)
    kind: PolicyKind
    conditions: list[str] = Field(default_factory=list)
    applies_to: list[str] = Field(description="Use case ids this policy governs.")
    evidence: list[Evidence] = Field(min_length=1)


class Axis(StrictModel):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    values: list[str] = Field(min_length=2)
    rationale: str
    policy_ids: list[str] = Field(description="Policies whose behaviour changes along this axis.")


class TestCase(StrictModel):
    __test__ = False  # not a pytest class

    id: str = Field(pattern=r"^tc_[0-9a-f]{10,64}$")
    document_id: str = Field(pattern=r"^doc_[0-9a-f]{12}$")
    use_case_id: str
    policy_ids: list[str] = Field(min_length=1)
    axis_values: dict[str, str] = Field(description="Axis name -> chosen value.")
    scenario: str
    expected_behaviour: str


class Message(StrictModel):
    role: Role
    content: str = Field(min_length=1, max_length=4000)


class EvaluationCriterion(StrictModel):
    criterion: str = Field(min_length=1)
    policy_id: str
    evidence: list[Evidence] = Field(min_length=1)


class ExampleMetadata(StrictModel):
    document_id: str
    use_case_id: str
    policy_ids: list[str]
    axis_values: dict[str, str]
    revisions: int = Field(ge=0, description="How many times the supervisor loop sent this example back.")


class DatasetExample(StrictModel):
    id: str = Field(pattern=r"^ex_[0-9a-f]{10,64}$")
    test_case_id: str
    messages: list[Message] = Field(min_length=1)
    expected_output: str = Field(min_length=1)
    evaluation_criteria: list[EvaluationCriterion] = Field(min_length=1)
    metadata: ExampleMetadata
