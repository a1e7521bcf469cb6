"""The whole run: parse -> extract -> design -> write -> supervise -> output."""

import asyncio
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from pydantic_ai import ModelSettings

from synthgen import __version__
from synthgen.agents.prompts import all_prompts
from synthgen.errors import GateError
from synthgen.orchestrator.llm.costs import PRICING, CostLedger, check_budget
from synthgen.orchestrator.llm.recording import CALLS_FILE, CallLog, RecordingModel
from synthgen.orchestrator.llm.resolve import ResolvedModel
from synthgen.orchestrator.observe.logs import Progress
from synthgen.orchestrator.observe.redact import redact
from synthgen.orchestrator.observe.tracing import RunTrace, run_trace, set_attributes
from synthgen.orchestrator.run.failures import DEFAULT_MAX_FAILURE_RATE, FailureBudget
from synthgen.orchestrator.run.runner import ItemFailed, ModelRunner
from synthgen.orchestrator.run.stages.design import Design, design_test_cases
from synthgen.orchestrator.run.stages.extract import Extraction, extract_document
from synthgen.orchestrator.run.stages.supervise import supervise
from synthgen.orchestrator.run.stages.write import example_id, write_example
from synthgen.orchestrator.rundir.directory import (
    RUNS_DIR,
    RunDirectory,
    check_run_dir,
    json_bytes,
    jsonl_bytes,
    output_file,
    run_id_for,
    write_atomically,
)
from synthgen.schemas.document import SourceDocument
from synthgen.schemas.items import DatasetExample, TestCase
from synthgen.schemas.manifest import (
    STAGES,
    CallCounts,
    InputDocument,
    LineageEntry,
    LineSpan,
    PromptVersion,
    RunBinding,
    RunConfig,
    RunManifest,
    StageReport,
    TokenUsage,
    VolatileInfo,
)
from synthgen.tools.gates import ItemIndex, run_problems
from synthgen.tools.windows import section_windows

log = logging.getLogger("synthgen")


@dataclass(frozen=True)
class RunOptions:
    out: Path | None = None
    seed: int = 42
    temperature: float = 0.0
    max_examples: int | None = None
    concurrency: int = 4
    max_revisions: int = 2
    window_tokens: int = 3000
    strength: int = 2
    replay: bool = False  # answer only from calls.jsonl; a call never recorded is an error
    force: bool = False  # start over in an --out made for another run
    max_cost: Decimal | None = None  # USD this invocation may spend on live calls; not part of the run id
    max_failure_rate: float = DEFAULT_MAX_FAILURE_RATE  # share of a stage's items that may fail; not in the run id


@dataclass
class RunResult:
    run_dir: Path
    manifest: RunManifest
    examples: list[DatasetExample] = field(default_factory=list)
    stale_calls: list[str] = field(default_factory=list)  # recorded calls this run no longer asks for


def run_config(model: ResolvedModel, options: RunOptions) -> RunConfig:
    return RunConfig(
        model=model.name,
        base_url=redact(model.base_url) if model.base_url else None,  # recorded, without a password in it
        demo_quality=model.local,
        seed=options.seed,
        temperature=options.temperature,
        max_examples=options.max_examples,
        concurrency=options.concurrency,
        max_revisions=options.max_revisions,
        window_tokens=options.window_tokens,
        strength=options.strength,
    )


def input_documents(documents: list[SourceDocument]) -> list[InputDocument]:
    return [
        InputDocument(
            id=d.id,
            path=d.path,
            absolute_path=os.path.abspath(d.path),
            sha256=d.sha256,
            encoding=d.encoding,
            line_ending=d.line_ending,
            lines=d.line_count,
        )
        for d in documents
    ]


def plan_run(documents: list[SourceDocument], model: ResolvedModel, options: RunOptions) -> tuple[RunBinding, Path]:
    """What the run is bound to and where it goes, checked before any model call."""
    config = run_config(model, options)
    for doc in documents:
        section_windows(doc, options.window_tokens)  # LineTooLong: refused before anything is written
    binding = RunBinding(run_id=run_id_for(documents, config), inputs=input_documents(documents), config=config)
    run_dir = options.out or RUNS_DIR / binding.run_id
    check_run_dir(run_dir, binding.run_id, options.force)
    return binding, run_dir


def select_test_cases(designs: list[Design], max_examples: int | None, report: StageReport) -> list[TestCase]:
    """Round-robin over documents so a cap keeps every document represented."""
    queues = [list(d.test_cases) for d in designs]
    chosen: list[TestCase] = []
    while any(queues):
        for queue in queues:
            if queue:
                chosen.append(queue.pop(0))
    if max_examples is not None and len(chosen) > max_examples:
        report.reject("over_max_examples", len(chosen) - max_examples)
        chosen = chosen[:max_examples]
    report.accepted += len(chosen)
    return chosen


def lineage(examples: list[DatasetExample], index: ItemIndex) -> list[LineageEntry]:
    entries = []
    for example in examples:
        test_case = index.test_cases[example.test_case_id]
        spans = [
            LineSpan(policy_id=pid, line_start=e.line_start, line_end=e.line_end)
            for pid in test_case.policy_ids
            for e in index.policies[pid].evidence
        ]
        entries.append(
            LineageEntry(
                example_id=example.id,
                test_case_id=test_case.id,
                use_case_id=test_case.use_case_id,
                document_id=test_case.document_id,
                policy_ids=test_case.policy_ids,
                lines=spans,
            )
        )
    return entries


class _StageClock:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def measure(self, stage: str, started: float) -> None:
        self.seconds[stage] = round(self.seconds.get(stage, 0.0) + time.monotonic() - started, 3)


async def run_pipeline(
    documents: list[SourceDocument], model: ResolvedModel, options: RunOptions, progress: Progress | None = None
) -> RunResult:
    binding, run_dir = plan_run(documents, model, options)
    check_budget(
        documents, model.model, model.name, options.max_cost, window_tokens=options.window_tokens,
        max_examples=options.max_examples, replay=options.replay, calls_path=run_dir / CALLS_FILE,
    )  # fmt: skip
    directory = RunDirectory(run_dir, binding, options.force)
    progress = progress or Progress()
    try:
        with run_trace(directory.path, binding.run_id, documents, model=model.name, replay=options.replay) as trace:
            return await _run_in(directory, documents, model, options, binding, trace, progress)
    finally:
        progress.close()
        directory.close()


async def _run_in(
    directory: RunDirectory,
    documents: list[SourceDocument],
    model: ResolvedModel,
    options: RunOptions,
    binding: RunBinding,
    trace: RunTrace,
    progress: Progress,
) -> RunResult:
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    run_dir = directory.path
    calls = CallLog(run_dir / CALLS_FILE)
    if calls.records:
        log.info("resuming: %d recorded call(s) in %s will be replayed", len(calls.records), calls.path)
    ledger = CostLedger(options.max_cost, model.name)
    ledger.calls_path = str(calls.path)
    ledger.listeners.append(progress.on_call)
    recording = RecordingModel(model.model, calls, "replay" if options.replay else "record", ledger)
    stages = {name: StageReport() for name in STAGES}
    runner = ModelRunner(
        recording,
        model.name,
        ModelSettings(temperature=options.temperature, seed=options.seed),
        options.concurrency,
        stages,
        ledger=ledger,
        trace=trace,
        progress=progress,
        failures=FailureBudget(options.max_failure_rate, calls.path),
    )
    clock = _StageClock()
    runner.failures.plan("extract", sum(len(section_windows(d, options.window_tokens)) for d in documents))

    start = time.monotonic()
    log.info("extract: %d document(s)", len(documents))
    extractions: list[Extraction] = await asyncio.gather(
        *(extract_document(doc, runner, options.window_tokens) for doc in documents)
    )
    runner.failures.check("extract")
    clock.measure("extract", start)
    progress.finish("extract")

    start = time.monotonic()
    log.info("design: naming variation axes")
    progress.expect("design", len(extractions))
    runner.failures.plan("design", len(extractions))
    designs: list[Design] = await asyncio.gather(
        *(design_test_cases(x, runner, options.strength, options.seed) for x in extractions)
    )
    runner.failures.check("design")
    test_cases = select_test_cases(designs, options.max_examples, stages["design"])
    clock.measure("design", start)
    progress.finish("design")

    index = ItemIndex(
        documents={doc.id: doc for doc in documents},
        use_cases={uc.id: uc for x in extractions for uc in x.use_cases},
        policies={p.id: p for x in extractions for p in x.policies},
        test_cases={tc.id: tc for tc in test_cases},
    )

    start = time.monotonic()
    log.info("write: %d example(s)", len(test_cases))
    progress.expect("write", len(test_cases))
    runner.failures.plan("write", len(test_cases))
    with trace.stage("write", [tc.document_id for tc in test_cases]):
        written = await asyncio.gather(*(_write_or_reject(tc, index, runner) for tc in test_cases))
    drafts = [example for example in written if example is not None]
    runner.failures.check("write")
    clock.measure("write", start)
    progress.finish("write")

    start = time.monotonic()
    log.info("supervise: reviewing %d example(s)", len(drafts))
    examples, _ = await supervise(drafts, index, runner, options.max_revisions)
    runner.failures.check("supervise")
    clock.measure("supervise", start)
    progress.finish("supervise")

    problems = run_problems(index, examples)
    if problems:
        raise GateError(f"the finished dataset failed {len(problems)} check(s), first: {problems[0]}")
    if not examples:
        raise GateError(
            "no example passed the gates and the supervisor: see the reasons with -v, or try a stronger model"
        )

    by_stage = ledger.by_stage()
    usage = {name: by_stage.get(name, TokenUsage()) for name in stages}
    files = {
        "use_cases.json": (json_bytes(list(index.use_cases.values())), len(index.use_cases)),
        "policies.json": (json_bytes(list(index.policies.values())), len(index.policies)),
        "test_cases.json": (json_bytes(test_cases), len(test_cases)),
        "dataset.jsonl": (jsonl_bytes(examples), len(examples)),
    }
    manifest = RunManifest(
        run_id=binding.run_id,
        tool_version=__version__,
        inputs=binding.inputs,
        config=binding.config,
        prompts=[PromptVersion(name=p.name, version=p.version, sha256=p.sha256) for p in all_prompts()],
        stages={name: report.model_copy(update={"usage": usage[name]}) for name, report in stages.items()},
        usage_by_model=ledger.by_model(),
        usage_by_agent=ledger.by_agent(),
        calls=ledger.calls(),
        pricing=PRICING,
        coverage=[d.coverage for d in designs],
        outputs=[output_file(name, data, records) for name, (data, records) in files.items()],
        lineage=lineage(examples, index),
        volatile=VolatileInfo(
            started_at=started_at,
            finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
            stage_seconds=clock.seconds,
            calls=CallCounts(live=ledger.live, replayed=ledger.replayed),
            max_cost_usd=float(options.max_cost) if options.max_cost is not None else None,
        ),
    )
    trace.record_totals(len(examples), ledger.live, ledger.replayed)
    for name, (data, _) in files.items():
        write_atomically(run_dir / name, data)
    write_atomically(run_dir / "manifest.json", json_bytes(manifest))
    stale = [f"{record.stage}: {record.item}" for record in calls.stale]
    if stale:
        log.info("%d recorded call(s) were not asked for again (prompts or inputs changed)", len(stale))
    return RunResult(run_dir, manifest, examples, stale)


async def _write_or_reject(test_case: TestCase, index: ItemIndex, runner: ModelRunner) -> DatasetExample | None:
    report = runner.stages["write"]
    report.requested += 1
    ex_id = example_id(test_case)
    with runner.trace.item(
        "write", test_case.document_id, "write example", f"example {ex_id} for {test_case.id}",
        test_case_id=test_case.id, example_id=ex_id, use_case_id=test_case.use_case_id,
        policy_ids=test_case.policy_ids,
    ) as span:  # fmt: skip
        try:
            example = await write_example(test_case, index, runner)
        except ItemFailed as err:
            log.warning(
                "rejected %s: %s",
                test_case.id,
                err,
                extra={"event": "rejected", "item": test_case.id, "reason_code": err.reason_code},
            )
            set_attributes(span, outcome="rejected", reason_code=err.reason_code)
            report.reject(err.reason_code)
            return None
        finally:
            runner.progress.advance("write")
        set_attributes(span, outcome="written")
    report.accepted += 1
    return example
