"""What the report shows, as plain typed records: the template reads these and nothing else.

Each section of the page is one field of `ReportView`: a new section is a new field and a new
template block.
"""

from dataclasses import dataclass
from typing import Literal

from synthgen.schemas.candidates import CandidateDecisionRecord
from synthgen.schemas.items import DatasetExample, Message, Policy, TestCase, UseCase
from synthgen.schemas.manifest import InputDocument, RunManifest, UncoveredReason
from synthgen.schemas.outcomes import DecidingRule, Outcome, RuleStatus

Status = Literal["accepted", "rejected"]


@dataclass(frozen=True)
class Cited:
    """Lines of a source document that an item cites, and the quote checked against them."""

    document_id: str
    line_start: int
    line_end: int
    quote: str

    @property
    def anchor(self) -> str:
        return line_anchor(self.document_id, self.line_start)

    @property
    def lines(self) -> str:
        if self.line_start == self.line_end:
            return f"line {self.line_start}"
        return f"lines {self.line_start}\N{EN DASH}{self.line_end}"


def line_anchor(document_id: str, line: int) -> str:
    """The id of a document line on the page: evidence links jump to it."""
    return f"{document_id}-L{line}"


@dataclass(frozen=True)
class CriterionView:
    text: str
    policy_id: str
    evidence: list[Cited]
    source: str  # "rule": built by code from a deciding rule; "writer": added by the model


@dataclass(frozen=True)
class DecidingView:
    """A rule that decides a test case, with the statement a reviewer reads it by."""

    rule: DecidingRule
    statement: str


@dataclass(frozen=True)
class Answer:
    """The last answer the model gave for an item, from calls.jsonl, or why there is none to show."""

    text: str | None
    missing: str = ""  # e.g. "no answer was recorded: the request itself failed"


@dataclass(frozen=True)
class RejectedItem:
    """An item a stage rejected, as trace.jsonl names it, with its reason code."""

    stage: str
    label: str  # the item's span message, e.g. "window lines 1-137" or "example ex_... for tc_..."
    reason_code: str
    document: str  # the document's file name
    example_id: str | None
    answer: Answer


@dataclass(frozen=True)
class ExampleCard:
    """One example of the run: an accepted one with its content, or a rejected one with its reason."""

    id: str
    status: Status
    test_case: TestCase
    use_case: UseCase
    example: DatasetExample | None  # None for a rejected example: only the model's last answer is left
    criteria: list[CriterionView]
    rejection: RejectedItem | None
    deciding: list[DecidingView]

    @property
    def conversation(self) -> list[Message]:
        return self.example.messages if self.example else []

    @property
    def outcome(self) -> Outcome:
        """The example's expected outcome; a rejected one has only its test case's."""
        return self.example.metadata.expected_outcome if self.example else self.test_case.expected_outcome


# Why a rule decides no written example, as manifest.json's rule_coverage names it, for a reader.
UNCOVERED_MEANING: dict[UncoveredReason, str] = {
    "budget": "its test cases were over --max-examples",
    "rejected": "the examples of its test cases were all rejected",
    "not_designed": "no test case has it: its document's design failed",
}


@dataclass(frozen=True)
class RuleRow:
    """One rule of the coverage matrix: its written examples by expected outcome, or why it has none."""

    policy: Policy
    evidence: list[Cited]
    examples: dict[Outcome, list[str]]  # every outcome -> the written examples it decides with that outcome
    pairs: list[str]  # anchors of its written contrast pairs
    uncovered: UncoveredReason | None  # from manifest.json's rule_coverage
    disagreement: str  # where manifest.json's rule_coverage says otherwise than the files; empty when it agrees

    @property
    def written(self) -> int:
        return sum(len(ids) for ids in self.examples.values())

    @property
    def uncovered_meaning(self) -> str:
        return UNCOVERED_MEANING[self.uncovered] if self.uncovered else ""


@dataclass(frozen=True)
class PairSide:
    """One test case of a contrast pair: its value of the axis, the rule's status there, and its outcome."""

    test_case_id: str
    example_id: str | None  # None when dataset.jsonl holds no example of it
    value: str
    status: RuleStatus | None  # None when the rule does not decide the test case
    outcome: Outcome


@dataclass(frozen=True)
class PairView:
    anchor: str
    policy_id: str
    statement: str
    axis: str
    sides: list[PairSide]


@dataclass(frozen=True)
class DecisionRow:
    """A candidate statement extraction decided on, with its lines in the source."""

    record: CandidateDecisionRecord
    lines: Cited


@dataclass(frozen=True)
class ReasonGroup:
    """The candidates extraction decided are not rules for one reason code, in document order."""

    reason: str
    rows: list[DecisionRow]


@dataclass(frozen=True)
class StageRow:
    name: str
    requested: int
    accepted: int
    rejected: int
    reasons: list[tuple[str, int]]
    notes: list[tuple[str, int]]
    tokens: int
    cost: str
    seconds: float | None


@dataclass(frozen=True)
class DocumentView:
    document: InputDocument
    file_name: str
    lines: list[str]


@dataclass(frozen=True)
class ReportView:
    manifest: RunManifest
    cost: str  # the run's cost line, as the end-of-run summary prints it
    tokens_in: int
    tokens_out: int
    requests: int
    seconds: float
    stages: list[StageRow]
    rules: list[RuleRow]
    contrast_pairs: list[PairView]
    use_cases: list[UseCase]
    examples: list[ExampleCard]
    other_rejections: list[RejectedItem]  # rejected items that are not examples: windows, designs, reviews
    documents: list[DocumentView]
    trace_note: str  # why rejected items may be missing (no trace.jsonl), or empty
    decisions: int  # candidates extraction decided on
    left_out: list[ReasonGroup]  # the candidates decided not to be rules, by reason
    not_by_model: list[DecisionRow]  # decided by the normative-cue rule, or never answered

    @property
    def accepted(self) -> int:
        return sum(1 for card in self.examples if card.status == "accepted")

    @property
    def covered(self) -> int:
        """Rules that decide a written example."""
        return sum(1 for row in self.rules if row.written)

    @property
    def file_names(self) -> dict[str, str]:
        return {d.document.id: d.file_name for d in self.documents}

    @property
    def left_out_total(self) -> int:
        return sum(len(group.rows) for group in self.left_out)
