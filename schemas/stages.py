"""What each stage hands the next: plain, serialisable results (a stage may run in another process)."""

from pydantic import Field

from synthgen.schemas.base import StrictModel
from synthgen.schemas.candidates import CandidateDecisionRecord
from synthgen.schemas.document import SourceDocument
from synthgen.schemas.items import Axis, Policy, TestCase, UseCase
from synthgen.schemas.outcomes import ContrastPair


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
    """One document's variation axes, its test cases (each with its deciding rules and outcome) and contrast pairs."""

    document_id: str
    strength: int
    axes: list[Axis]
    test_cases: list[TestCase]
    contrast_pairs: list[ContrastPair]
    designed: bool = Field(description="False when the model failed on the design: the document has no test case.")
