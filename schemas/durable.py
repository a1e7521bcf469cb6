"""What a document's workflows take and return: saved in the DBOS system database, so any worker can run them."""

from pydantic import Field

from synthgen.schemas.base import StrictModel
from synthgen.schemas.calls import CallEntry
from synthgen.schemas.document import SourceDocument
from synthgen.schemas.items import DatasetExample, TestCase
from synthgen.schemas.manifest import RunConfig, StageReport
from synthgen.schemas.stages import Design, Extraction, ItemIndex


class RunSpec(StrictModel):
    """What a process needs to work on a run's documents. Every workflow carries it, so a worker
    started with nothing but the database URL learns the run from the queue."""

    run_id: str
    run_dir: str  # absolute: workers append to its calls.jsonl, so they must share the file system
    config: RunConfig
    documents: int = 1  # in the run: a lone document keeps a run's failure rules exactly
    replay: bool = False  # answer only from calls.jsonl
    max_failure_rate: float = 0.5


class ItemFailures(StrictModel):
    """A stage's model items for one document, and how many failed by reason: the run sums them
    over documents to apply --max-failure-rate to the stage as a whole."""

    attempted: int = 0
    failed: dict[str, int] = Field(default_factory=dict)


class PlanTask(StrictModel):
    """Phase one of a document: extract its use cases and policies, then design its test cases."""

    run: RunSpec
    document: SourceDocument


class DocumentPlan(StrictModel):
    extraction: Extraction
    design: Design
    reports: dict[str, StageReport]  # extract, design
    seconds: dict[str, float]
    calls: list[CallEntry]  # the model calls of its steps, for the manifest of the process that writes it
    failures: dict[str, ItemFailures]  # by stage


class ExamplesTask(StrictModel):
    """Phase two of a document: write and supervise the examples of the test cases the run chose for it."""

    run: RunSpec
    index: ItemIndex  # this document's items only
    test_cases: list[TestCase]


class DocumentExamples(StrictModel):
    examples: list[DatasetExample]  # accepted, in test-case order
    reports: dict[str, StageReport]  # write, supervise
    seconds: dict[str, float]
    calls: list[CallEntry]
    failures: dict[str, ItemFailures]  # by stage
