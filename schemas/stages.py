"""What each stage hands the next: plain, serialisable results (a stage may run in another process)."""

from synthgen.schemas.base import StrictModel
from synthgen.schemas.candidates import CandidateDecisionRecord
from synthgen.schemas.document import SourceDocument
from synthgen.schemas.items import Axis, Policy, TestCase, UseCase
from synthgen.schemas.manifest import CoverageReport


class Extraction(StrictModel):
    """One document's use cases and policies, with their final IDs."""

    document: SourceDocument
    use_cases: list[UseCase]
    policies: list[Policy]
    decisions: list[CandidateDecisionRecord]  # what became of every candidate statement, in document order


class ItemIndex(StrictModel):
    """Everything an example refers to, by ID: what the write and supervise stages look things up in."""

    documents: dict[str, SourceDocument]
    use_cases: dict[str, UseCase]
    policies: dict[str, Policy]
    test_cases: dict[str, TestCase]


class Design(StrictModel):
    """One document's variation axes and the test cases a covering array picked over them."""

    document_id: str
    axes: list[Axis]
    test_cases: list[TestCase]
    coverage: CoverageReport
