"""Many documents as durable DBOS workflows on one queue: crash-safe, and spread over workers.

Each document goes through two workflows on the queue, each stage a step whose result is the
stage's serialisable contract (schemas/durable.py):

  plan     extract -> design            (a DocumentPlan)
  examples write   -> supervise          (a DocumentExamples)

Between them the run chooses the test cases (over every document's design, under --max-examples):
that choice needs every document's design, and a workflow that waited for it would hold a queue
slot, so with more documents than slots the run would deadlock. The run-level steps (choosing,
the final checks, the files, the manifest) stay in the process that started the run: they are
fast, deterministic functions of the workflows' results, which DBOS keeps.

Model calls inside the steps still go through calls.jsonl (llm/recording.py): a step that died
half-way is run again, and the calls it had finished are answered from the file, not resent.

DBOS recovers a workflow by calling the registered function with its saved inputs, so the process
must know, by run ID, the model and trace its steps use: `serving` registers them while the
process serves the run (the only process-wide state here, and DBOS's own design makes it needed).
"""

import asyncio
import contextvars
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, Generic, TypeVar

from dbos import DBOS, DBOSClient, Queue, SetWorkflowID

from synthgen import __version__
from synthgen.errors import GateError, InputError
from synthgen.orchestrator.llm.costs import CostLedger, collecting_calls
from synthgen.orchestrator.llm.recording import CallLog
from synthgen.orchestrator.observe.logs import Progress
from synthgen.orchestrator.run.failures import FailureBudget, StageFailed
from synthgen.orchestrator.run.items import Stage, StageContext
from synthgen.orchestrator.run.stages.design import design, select_test_cases
from synthgen.orchestrator.run.stages.extract import NoRulesError, extract
from synthgen.orchestrator.run.stages.supervise import supervise
from synthgen.orchestrator.run.stages.write import write
from synthgen.orchestrator.rundir.database import DatabaseTarget
from synthgen.orchestrator.rundir.directory import jsonl_bytes
from synthgen.schemas.calls import CallEntry
from synthgen.schemas.candidates import CandidateDecisionRecord
from synthgen.schemas.document import SourceDocument
from synthgen.schemas.durable import (
    DocumentExamples,
    DocumentPlan,
    ExamplesTask,
    ItemFailures,
    PlanTask,
    RunSpec,
)
from synthgen.schemas.items import DatasetExample, TestCase
from synthgen.schemas.layout import PARTIAL_DATASET_FILE
from synthgen.schemas.manifest import StageReport
from synthgen.schemas.stages import Design, Extraction, ItemIndex
from synthgen.tools.gates import run_problems

log = logging.getLogger("synthgen")
T = TypeVar("T")

QUEUE = "synthgen-documents"
LOCAL_EXECUTOR = "local"  # DBOS's own default executor ID: the process that starts a run
PLAN_WORKFLOW = "synthgen.plan_document"
EXAMPLES_WORKFLOW = "synthgen.document_examples"
# How often a process looks for queued documents: DBOS's default (1 s) would idle every slot
# for up to a second between documents.
POLL_SECONDS = 0.05
RESULT_POLL_SECONDS = 0.1  # how often the run looks for documents that have ended
FAILED = ("ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED")  # a workflow's statuses once it failed
ENDED = ("SUCCESS", *FAILED)
# DBOS's notification listener (unused here) polls at this interval, and DBOS.destroy() waits for its
# sleep to end: at DBOS's default of 1 s, every command would take a second longer to finish.
LISTENER_POLL_SECONDS = 0.2
# Errors that fail one document; the run goes on under --max-failure-rate. Anything else
# (an exhausted --max-cost, a --replay miss, a broken configuration) stops the run.
DOCUMENT_ERRORS = (StageFailed, GateError, NoRulesError)


@dataclass(frozen=True)
class Served:
    """What this process's steps of a run use, and the steps running now."""

    context: StageContext
    # The contextvars of the code that started serving (its current span, an agent override in a
    # test): DBOS starts queued workflows from its own thread, so without them a step would not see
    # what an in-process stage always saw.
    variables: contextvars.Context
    running: set["asyncio.Task[Any]"] = field(default_factory=set)

    async def stop(self) -> None:
        """Cancel the steps still running here and wait for them: once a run stops (an error, Ctrl-C),
        no model call of it stays in flight. Their workflows stay PENDING, for the next launch."""
        while self.running:
            steps = list(self.running)
            for step in steps:
                step.cancel()
            await asyncio.gather(*steps, return_exceptions=True)


_serving: dict[str, Served] = {}


def application_version(run_id: str) -> str:
    """What DBOS files the run's workflows under. Without it DBOS hashes the workflow source, and after
    any code edit the pending workflows would never be recovered. The run ID already names the inputs
    and settings; the tool version keeps an upgraded synthgen from adopting an older one's workflows."""
    return f"synthgen-{__version__}-{run_id}"


@asynccontextmanager
async def serving(spec: RunSpec, context: StageContext) -> AsyncIterator[Served]:
    """While the block runs, this process's workflows of `spec`'s run use `context`."""
    _serving[spec.run_id] = served = Served(context, contextvars.copy_context())
    try:
        yield served
    finally:
        _serving.pop(spec.run_id, None)


def _served(spec: RunSpec) -> Served:
    served = _serving.get(spec.run_id)
    if served is None:  # a workflow of another run on this database: refused before launch, so a bug
        raise RuntimeError(f"this process does not serve run {spec.run_id}")
    return served


# Steps: each returns a stage's contract, which DBOS saves; a step that finished is never run again.


@dataclass(frozen=True)
class _CountingContext(StageContext):
    """The run's context with the failure budgets of a document's stages kept for the run to judge:
    in a run of several documents --max-failure-rate applies to a stage's items over all of them."""

    budgets: list[FailureBudget] = field(default_factory=list)

    @contextmanager
    def stage(self, name: str, items: int, planned: bool = True) -> Iterator[Stage]:
        with super().stage(name, items, planned) as stage:
            self.budgets.append(stage.budget)
            yield stage


class _DocumentProgress(Progress):
    """One document's share of the run's progress display: its items count there, but the end of its
    stage is not the stage's end (the run's progress line says how the documents stand)."""

    def __init__(self, run: Progress) -> None:
        super().__init__()
        self.run = run
        self.stages = run.stages

    def expect(self, stage: str, count: int) -> None:
        self.run.expect(stage, count)

    def advance(self, stage: str, count: int = 1) -> None:
        self.run.advance(stage, count)


@dataclass(frozen=True)
class StepResult(Generic[T]):
    """A stage's contract for one document, with what the step took: DBOS saves it whole."""

    value: T
    report: StageReport
    seconds: float
    calls: list[CallEntry]  # every model call the step made or replayed
    failures: ItemFailures  # its model items, and those that failed


async def _step(
    spec: RunSpec, stage: str, work: Callable[[StageContext], Awaitable[tuple[T, StageReport]]]
) -> StepResult[T]:
    """Run one stage on one document. A lone document's stage stops on its own failure budget, as a
    run always did; with several documents, the run sums the stage's failures over them."""
    served = _served(spec)
    shared = served.context
    alone = spec.documents == 1
    rate = shared.max_failure_rate if alone else 1.0
    progress = shared.progress if alone else _DocumentProgress(shared.progress)
    context = _CountingContext(shared.runner, shared.trace, progress, rate, shared.calls_path)
    started = time.monotonic()

    async def run() -> tuple[tuple[T, StageReport], list[CallEntry]]:
        with collecting_calls() as calls:
            return await work(context), calls

    # Awaiting the task passes a cancellation on to it.
    task = asyncio.get_running_loop().create_task(run(), context=served.variables.copy())
    served.running.add(task)
    task.add_done_callback(served.running.discard)
    (value, report), calls = await task
    failures = ItemFailures(
        attempted=sum(b.attempted for b in context.budgets),
        failed=dict(sum((b.failed for b in context.budgets), Counter())),
    )
    return StepResult(value, report, round(time.monotonic() - started, 3), calls, failures)


@DBOS.step(name="synthgen.extract")
async def extract_step(spec: RunSpec, document: SourceDocument) -> StepResult[Extraction]:
    async def work(context: StageContext) -> tuple[Extraction, StageReport]:
        extractions, report = await extract([document], context, spec.config.window_tokens)
        return extractions[0], report

    return await _step(spec, "extract", work)


@DBOS.step(name="synthgen.design")
async def design_step(spec: RunSpec, extraction: Extraction) -> StepResult[Design]:
    async def work(context: StageContext) -> tuple[Design, StageReport]:
        designs, report = await design([extraction], context, spec.config.strength, spec.config.seed)
        return designs[0], report

    return await _step(spec, "design", work)


@DBOS.step(name="synthgen.write")
async def write_step(spec: RunSpec, index: ItemIndex, test_cases: list[TestCase]) -> StepResult[list[DatasetExample]]:
    return await _step(spec, "write", lambda context: write(test_cases, index, context))


@DBOS.step(name="synthgen.supervise")
async def supervise_step(
    spec: RunSpec, index: ItemIndex, drafts: list[DatasetExample]
) -> StepResult[list[DatasetExample]]:
    return await _step(spec, "supervise", lambda context: supervise(drafts, index, context, spec.config.max_revisions))


# Workflows: one document each, so a crash or a dead worker loses at most the steps in flight.


@DBOS.workflow(name=PLAN_WORKFLOW)
async def plan_document(task: PlanTask) -> DocumentPlan:
    extracted = await extract_step(task.run, task.document)
    designed = await design_step(task.run, extracted.value)
    return DocumentPlan(
        extraction=extracted.value,
        design=designed.value,
        reports={"extract": extracted.report, "design": designed.report},
        seconds={"extract": extracted.seconds, "design": designed.seconds},
        calls=[*extracted.calls, *designed.calls],
        failures={"extract": extracted.failures, "design": designed.failures},
    )


@DBOS.workflow(name=EXAMPLES_WORKFLOW)
async def document_examples(task: ExamplesTask) -> DocumentExamples:
    written = await write_step(task.run, task.index, task.test_cases)
    supervised = await supervise_step(task.run, task.index, written.value)
    return DocumentExamples(
        examples=supervised.value,
        reports={"write": written.report, "supervise": supervised.report},
        seconds={"write": written.seconds, "supervise": supervised.seconds},
        calls=[*written.calls, *supervised.calls],
        failures={"write": written.failures, "supervise": supervised.failures},
    )


def workflow_id(run_id: str, phase: str, document_id: str) -> str:
    """Deterministic, so the same command run again attaches to the workflows it had started."""
    return f"{run_id}:{phase}:{document_id}"


def dbos_config(target: DatabaseTarget, run_id: str, executor_id: str) -> dict[str, object]:
    return {
        "name": "synthgen",
        "system_database_url": target.url,
        "application_version": application_version(run_id),
        "executor_id": executor_id,
        "run_admin_server": False,
        "enable_otlp": False,
        "log_level": "WARNING",  # DBOS's own INFO lines (its launch banner names the database URL) are noise here
        "notification_listener_polling_interval_sec": LISTENER_POLL_SECONDS,
    }


@asynccontextmanager
async def launched(
    target: DatabaseTarget, served: Served, run_id: str, executor_id: str, concurrency: int
) -> AsyncIterator[Queue]:
    """DBOS launched on this event loop (so its workflows share the run's model clients), with the
    document queue; at the end, the steps still running here are stopped and DBOS is destroyed,
    leaving unfinished workflows PENDING for the next launch."""
    dbos_log = logging.getLogger("dbos")
    # DBOS prints through its own handler, bound to the stderr of the moment it was imported; route its
    # lines through synthgen's logging instead (-vv shows them), with any password hidden.
    dbos_log.handlers = [logging.NullHandler()]
    dbos_log.propagate = True
    redacting = _Redact(target)
    dbos_log.addFilter(redacting)
    DBOS(config=dbos_config(target, run_id, executor_id))  # type: ignore[arg-type]
    try:
        try:
            DBOS.launch()
        except Exception as err:  # noqa: BLE001 - unreachable server, wrong password, not a database...
            first = target.hide(str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__)
            raise InputError(f"cannot use the database {target.shown}: {first}") from None
        # Registered once per process: registering again without worker_concurrency would lift the limit.
        yield await DBOS.register_queue_async(QUEUE, worker_concurrency=concurrency, polling_interval_sec=POLL_SECONDS)
    finally:
        await served.stop()
        DBOS.destroy(workflow_completion_timeout_sec=0)
        await served.stop()  # any DBOS had started in between: after destroy() it starts no more
        dbos_log.removeFilter(redacting)


class _Redact(logging.Filter):
    """DBOS may name its database URL in a log line: never with the password."""

    def __init__(self, target: DatabaseTarget) -> None:
        super().__init__()
        self.target = target

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = self.target.hide(message)
        if hidden != message:
            record.msg, record.args = hidden, None
        return True


async def run_phase(
    queue: Queue,
    phase: str,
    workflow: Callable[..., Awaitable[T]],
    tasks: dict[str, PlanTask | ExamplesTask],
    run_id: str,
    on_done: Callable[[str, T | BaseException], None],
) -> dict[str, T | BaseException]:
    """Enqueue one workflow per document (attaching to any started before) and wait for them all.

    A document's error from DOCUMENT_ERRORS is its result; any other stops the run.
    """
    ids = {doc: workflow_id(run_id, phase, doc) for doc in tasks}
    await _forget_failed(list(ids.values()))
    handles = {}
    for doc, task in tasks.items():
        with SetWorkflowID(ids[doc]):
            handles[doc] = await queue.enqueue_async(workflow, task)

    # One query for all the documents still running, rather than each handle polling on its own (once a
    # second by default: a second late, and a hundred documents' queries a second).
    waiting = {workflow: doc for doc, workflow in ids.items()}
    results: dict[str, T | BaseException] = {}
    while waiting:
        ended = await DBOS.list_workflows_async(
            workflow_ids=list(waiting), status=list(ENDED), load_input=False, load_output=False
        )
        for status in ended:
            doc = waiting.pop(status.workflow_id)
            try:
                results[doc] = await handles[doc].get_result()
            except DOCUMENT_ERRORS as err:
                results[doc] = err
            on_done(doc, results[doc])
        if waiting:
            await asyncio.sleep(RESULT_POLL_SECONDS)
    return {doc: results[doc] for doc in tasks}


async def _forget_failed(ids: list[str]) -> None:
    """Workflows that ended in an error are run again by the same command, like any failed run:
    their finished model calls are answered from calls.jsonl, so nothing is paid twice."""
    failed = await DBOS.list_workflows_async(
        workflow_ids=ids,
        status=list(FAILED),
        load_input=False,
        load_output=False,
    )
    for status in failed:
        await DBOS.delete_workflow_async(status.workflow_id)


async def runs_in_progress() -> set[str]:
    """The application versions (one per run) that have documents queued or running in the database."""
    active = await DBOS.list_workflows_async(
        status=["ENQUEUED", "PENDING"], name=[PLAN_WORKFLOW, EXAMPLES_WORKFLOW], load_input=False, load_output=False
    )
    return {w.app_version for w in active if w.app_version}


@contextmanager
def quiet_dbos() -> Iterator[None]:
    """DBOS logs an ERROR when its database does not exist yet: expected before a run's first launch."""
    dbos_log = logging.getLogger("dbos")
    level = dbos_log.level
    dbos_log.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        dbos_log.setLevel(level)


def refuse_other_runs(target: DatabaseTarget, run_id: str) -> None:
    """One run per database at a time: two runs' documents on one queue would be served with the wrong
    settings. InputError (before anything is written) when another run has documents queued or running.

    Called with the run directory locked. The default database lives in the run directory, which run.json
    binds to one run (another run's directory is refused, or cleared by --force): only a database given
    by URL is looked into."""
    if target.in_run_dir or target.missing():  # a new SQLite file holds no run
        return
    try:
        with quiet_dbos():
            client = DBOSClient(system_database_url=target.url)
    except Exception:  # noqa: BLE001 - no database yet (DBOS creates it): it holds no run
        return
    try:
        active = client.list_workflows(status=["ENQUEUED", "PENDING"], name=[PLAN_WORKFLOW, EXAMPLES_WORKFLOW],
                                       load_input=False, load_output=False)  # fmt: skip
    except Exception:  # noqa: BLE001 - a database DBOS has not set up yet holds no run
        return
    finally:
        client.destroy()
    others = {w.app_version for w in active if w.app_version} - {application_version(run_id)}
    if others:
        raise InputError(
            f"the database {target.shown} holds another run in progress ({', '.join(sorted(others))}): "
            "finish it with its own command, or give this run another --database-url"
        )


def forget_run(target: DatabaseTarget, run_id: str, document_ids: list[str]) -> None:
    """Once the dataset is written, the database lets go of the run: it holds runs in progress, while a
    finished run's record is calls.jsonl, so running the command again replays it from there, as
    always (and a shared database is free for the next run)."""
    client = DBOSClient(system_database_url=target.url)
    try:
        ids = [workflow_id(run_id, phase, doc) for phase in ("plan", "examples") for doc in document_ids]
        client.delete_workflows(ids)
    finally:
        client.destroy()


def check_stages(
    stages: list[str], results: Iterable[DocumentPlan | DocumentExamples], spec: RunSpec, context: StageContext
) -> None:
    """StageFailed when more of a stage's items failed, over all documents, than --max-failure-rate allows;
    otherwise the stages are over for every document (a lone document's steps said so themselves)."""
    results = list(results)
    for stage in stages:
        budget = FailureBudget(stage, spec.max_failure_rate, context.calls_path)
        budget.attempted = sum(r.failures[stage].attempted for r in results)
        budget.failed = sum((Counter(r.failures[stage].failed) for r in results), Counter())
        budget.check()
        if spec.documents > 1:
            context.progress.finish(stage)


def raise_if_too_many_failed(
    failures: dict[str, BaseException], total: int, max_rate: float, paths: dict[str, str]
) -> None:
    """StageFailed (or the lone document's own error) when more documents failed than --max-failure-rate allows."""
    if not failures or len(failures) <= max_rate * total:
        return
    first_doc, first = next(iter(failures.items()))
    if total == 1:
        raise first
    raise StageFailed(
        f"{len(failures)} of {total} documents failed, more than --max-failure-rate {max_rate:g} allows; "
        f"first: {paths[first_doc]}: {first}. Fix the cause and run the same command again to resume"
    )


@dataclass(frozen=True)
class Generated:
    """Everything the stages made, before it is written."""

    index: ItemIndex  # the documents, use cases, policies and chosen test cases, by ID
    decisions: list[CandidateDecisionRecord]  # what became of every candidate statement
    designs: list[Design]
    test_cases: list[TestCase]  # the ones examples were written for
    examples: list[DatasetExample]
    reports: dict[str, StageReport]  # by stage
    stage_seconds: dict[str, float]  # summed over documents
    calls: list[CallEntry]  # every model call of the steps, in whichever process they ran


def check_dataset(index: ItemIndex, examples: list[DatasetExample]) -> None:
    """GateError unless the finished dataset passes every run-level check and is not empty."""
    problems = run_problems(index, examples)
    if problems:
        raise GateError(f"the finished dataset failed {len(problems)} check(s), first: {problems[0]}")
    if not examples:
        raise GateError(
            "no example passed the gates and the supervisor: see the reasons with -v, or try a stronger model"
        )


async def generate(
    documents: list[SourceDocument], context: StageContext, spec: RunSpec, target: DatabaseTarget,
    executor_id: str = LOCAL_EXECUTOR,
) -> Generated:  # fmt: skip
    """Every document planned, the run's test cases chosen, every document's examples written and
    supervised, then the run-level checks: the documents' workflows on the queue, the rest here."""
    paths = {d.id: d.path for d in documents}
    alone = len(documents) == 1
    failures: dict[str, BaseException] = {}
    async with (
        serving(spec, context) as served,
        launched(target, served, spec.run_id, executor_id, spec.config.concurrency) as queue,
    ):
        reporter = asyncio.create_task(_progress(documents, spec, context)) if len(documents) > 1 else None
        try:
            planned = await run_phase(
                queue,
                "plan", plan_document, {d.id: PlanTask(run=spec, document=d) for d in documents}, spec.run_id,
                lambda doc, result: _on_document(paths[doc], result, alone),
            )  # fmt: skip
            plans = _succeeded(planned, failures)
            raise_if_too_many_failed(failures, len(documents), spec.max_failure_rate, paths)
            check_stages(["extract", "design"], plans.values(), spec, context)
            designs = [plans[d.id].design for d in documents if d.id in plans]
            test_cases, selected = select_test_cases(designs, spec.config.strength, spec.config.max_examples)
            index = ItemIndex(
                documents={d.id: d for d in documents},
                use_cases={uc.id: uc for plan in plans.values() for uc in plan.extraction.use_cases},
                policies={p.id: p for plan in plans.values() for p in plan.extraction.policies},
                test_cases={tc.id: tc for tc in test_cases},
            )
            tasks = {
                doc: ExamplesTask(
                    run=spec,
                    index=_document_index(index, doc),
                    test_cases=[tc for tc in test_cases if tc.document_id == doc],
                )
                for doc in plans
            }
            # Accepted examples go to disk as each document finishes; dataset.jsonl itself is written whole,
            # in the run's order, when every document is in.
            with (Path(spec.run_dir) / PARTIAL_DATASET_FILE).open("wb") as stream:
                written = await run_phase(
                    queue,
                    "examples", document_examples, tasks, spec.run_id,
                    lambda doc, result: _on_document(paths[doc], result, alone, stream),
                )  # fmt: skip
            outcomes = _succeeded(written, failures)
            raise_if_too_many_failed(failures, len(documents), spec.max_failure_rate, paths)
            check_stages(["write", "supervise"], outcomes.values(), spec, context)
        finally:
            if reporter is not None:
                reporter.cancel()
    order = {tc.id: position for position, tc in enumerate(test_cases)}
    examples = sorted((e for o in outcomes.values() for e in o.examples), key=lambda e: order[e.test_case_id])
    check_dataset(index, examples)
    results = [*plans.values(), *outcomes.values()]
    reports = {
        "extract": sum((p.reports["extract"] for p in plans.values()), StageReport()),
        "design": sum((p.reports["design"] for p in plans.values()), selected),
        "write": sum((o.reports["write"] for o in outcomes.values()), StageReport()),
        "supervise": sum((o.reports["supervise"] for o in outcomes.values()), StageReport()),
    }
    seconds = {stage: round(sum(r.seconds.get(stage, 0.0) for r in results), 3) for stage in reports}
    calls = [call for r in results for call in r.calls]
    decisions = [record for d in documents if d.id in plans for record in plans[d.id].extraction.decisions]
    return Generated(index, decisions, designs, test_cases, examples, reports, seconds, calls)


async def _progress(documents: list[SourceDocument], spec: RunSpec, context: StageContext) -> None:
    from synthgen.orchestrator.run.status import report_progress  # status reads this module's names

    def tokens_and_cost() -> tuple[int, str]:
        counts = context.progress.stages.values()
        spent = sum((c.spent for c in counts), Decimal(0))
        return sum(c.tokens for c in counts), f"${spent:.4f} spent"

    await report_progress([d.id for d in documents], spec.run_id, tokens_and_cost)


def _document_index(index: ItemIndex, document_id: str) -> ItemIndex:
    """The part of the run's index one document's examples refer to."""
    return ItemIndex(
        documents={document_id: index.documents[document_id]},
        use_cases={k: v for k, v in index.use_cases.items() if v.document_id == document_id},
        policies={k: v for k, v in index.policies.items() if v.document_id == document_id},
        test_cases={k: v for k, v in index.test_cases.items() if v.document_id == document_id},
    )


def _succeeded(results: dict[str, T | BaseException], failures: dict[str, BaseException]) -> dict[str, T]:
    """The documents whose workflow returned, in document order; the others join `failures`."""
    for doc, result in results.items():
        if isinstance(result, BaseException):
            failures.setdefault(doc, result)
    return {doc: result for doc, result in results.items() if not isinstance(result, BaseException)}


def _on_document(path: str, result: object, alone: bool, stream: BinaryIO | None = None) -> None:
    """A document's workflow ended: its failure reported on one line (unless it is the run's only
    document, whose error is the run's), or its examples streamed out."""
    if isinstance(result, BaseException):
        if alone:
            return
        log.warning("document %s failed: %s", path, result, extra={"event": "document_failed", "document": path})
    elif stream is not None and isinstance(result, DocumentExamples):
        stream.write(jsonl_bytes(result.examples))
        stream.flush()


def count_calls(generated: Generated, ledger: CostLedger, calls: CallLog, recorded_at_start: set[str]) -> None:
    """Count in `ledger` the calls of steps this process did not run: a worker's (live, since calls.jsonl
    did not hold them when the run started), or a step finished before a crash (replayed: its answers
    were on file). A call this process made or replayed is already counted."""
    here = Counter(entry.key for entry in ledger.entries)
    for call in generated.calls:
        if here[call.key] > 0:
            here[call.key] -= 1
            continue
        ledger.adopt(call, replayed=call.key in recorded_at_start)
        calls.used.add(call.key)
