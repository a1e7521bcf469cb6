"""What the report shows, as plain typed records: the template reads these and nothing else.

Each section of the page is one field of `ReportView`. Sections still to come (the outcomes of
outcome-driven test cases and a rules x outcomes matrix, issue 13; extraction's not-a-rule
decisions, issue 12) are new fields and new template blocks; nothing here needs to change for them.
"""

from dataclasses import dataclass
from typing import Literal

from synthgen.schemas.items import DatasetExample, Message, Policy, TestCase, UseCase
from synthgen.schemas.manifest import InputDocument, RunManifest

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

    @property
    def conversation(self) -> list[Message]:
        return self.example.messages if self.example else []


@dataclass(frozen=True)
class PolicyRow:
    policy: Policy
    evidence: list[Cited]
    cited_by: list[str]  # accepted examples whose criteria cite the policy, in dataset order
    criteria: int  # criteria that cite it
    uncovered_because: str  # empty when some accepted example cites it


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
    policies: list[PolicyRow]
    use_cases: list[UseCase]
    examples: list[ExampleCard]
    other_rejections: list[RejectedItem]  # rejected items that are not examples: windows, designs, reviews
    documents: list[DocumentView]
    trace_note: str  # why rejected items may be missing (no trace.jsonl), or empty

    @property
    def accepted(self) -> int:
        return sum(1 for card in self.examples if card.status == "accepted")

    @property
    def covered(self) -> int:
        return sum(1 for row in self.policies if not row.uncovered_because)
