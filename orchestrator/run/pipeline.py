"""The whole run: parse -> extract -> design -> write -> supervise -> output."""

import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from pydantic_ai import ModelSettings

from synthgen import __version__
from synthgen.agents.prompts import all_prompts
from synthgen.orchestrator.llm.costs import PRICING, CostLedger, check_budget
from synthgen.orchestrator.llm.recording import CallLog, RecordingModel
from synthgen.orchestrator.llm.resolve import ResolvedModel
from synthgen.orchestrator.llm.retries import AdaptiveLimiter
from synthgen.orchestrator.observe.logs import Progress
from synthgen.orchestrator.observe.redact import redact
from synthgen.orchestrator.observe.tracing import run_trace
from synthgen.orchestrator.run.durable import Generated, count_calls, forget_run, generate, refuse_other_runs
from synthgen.orchestrator.run.failures import DEFAULT_MAX_FAILURE_RATE
from synthgen.orchestrator.run.items import StageContext
from synthgen.orchestrator.run.runner import ModelRunner
from synthgen.orchestrator.rundir.database import DatabaseTarget, check_reachable, database_target
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
from synthgen.schemas.durable import RunSpec
from synthgen.schemas.items import DatasetExample
from synthgen.schemas.layout import CALLS_FILE, DATA_FILES, MANIFEST_FILE, PARTIAL_DATASET_FILE
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
    TokenUsage,
    VolatileInfo,
)
from synthgen.schemas.stages import ItemIndex
from synthgen.tools.batches import refuse_long_lines
from synthgen.tools.coverage import document_coverage, rule_coverage, written_pairs

log = logging.getLogger("synthgen")


@dataclass(frozen=True)
class RunOptions:
    out: Path | None = None
    seed: int = 42
    temperature: float = 0.0
    max_examples: int | None = None
    concurrency: int = 4
    max_revisions: int = 2
    window_tokens: int = 1500
    strength: int = 2
    replay: bool = False  # answer only from calls.jsonl; a call never recorded is an error
    force: bool = False  # start over in an --out made for another run
    max_cost: Decimal | None = None  # USD this invocation may spend on live calls; not part of the run id
    max_failure_rate: float = DEFAULT_MAX_FAILURE_RATE  # share of a stage's items that may fail; not in the run id
    database_url: str | None = None  # DBOS system database (default: a SQLite file in the run dir); not in the run id


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
        refuse_long_lines(doc, options.window_tokens)  # refused before anything is written
    binding = RunBinding(run_id=run_id_for(documents, config), inputs=input_documents(documents), config=config)
    run_dir = options.out or RUNS_DIR / binding.run_id
    check_run_dir(run_dir, binding.run_id, options.force)
    return binding, run_dir


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


async def run_pipeline(
    documents: list[SourceDocument], model: ResolvedModel, options: RunOptions, progress: Progress | None = None
) -> RunResult:
    """Check the run can start, generate its dataset, then write the dataset and its manifest."""
    binding, run_dir = plan_run(documents, model, options)
    check_budget(
        documents, model.model, model.name, options.max_cost, window_tokens=options.window_tokens,
        max_examples=options.max_examples, replay=options.replay, calls_path=run_dir / CALLS_FILE,
    )  # fmt: skip
    database = database_target(options.database_url, run_dir)
    # Checked once the directory is locked (a second run on the same --out is refused first, before the
    # database is opened) and before it is bound: a database that cannot take the run leaves nothing behind.
    directory = RunDirectory(run_dir, binding, options.force, check=lambda: _check_database(database, binding.run_id))
    progress = progress or Progress()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        with run_trace(directory.path, binding.run_id, documents, model=model.name, replay=options.replay) as trace:
            calls = CallLog(run_dir / CALLS_FILE)
            if calls.records:
                log.info("resuming: %d recorded call(s) in %s will be replayed", len(calls.records), calls.path)
            ledger = CostLedger(options.max_cost, model.name)
            ledger.calls_path = str(calls.path)
            ledger.listeners.append(progress.on_call)
            context = StageContext(
                model_runner(model, options, calls, ledger), trace, progress, options.max_failure_rate, calls.path
            )
            spec = RunSpec(
                run_id=binding.run_id, run_dir=str(run_dir.absolute()), config=binding.config,
                documents=len(documents), replay=options.replay, max_failure_rate=options.max_failure_rate,
            )  # fmt: skip
            recorded_at_start = set(calls.records)
            generated = await generate(documents, context, spec, database)
            count_calls(generated, ledger, calls, recorded_at_start)
            files = output_files(generated)
            manifest = build_manifest(binding, generated, ledger, files, options, started_at)
            trace.record_totals(len(generated.examples), ledger.live, ledger.replayed)
            # No await from here on: a cancellation lands before all of these files or after all of them.
            for name, (data, _) in files.items():
                write_atomically(run_dir / name, data)
            write_atomically(run_dir / MANIFEST_FILE, json_bytes(manifest))
            (run_dir / PARTIAL_DATASET_FILE).unlink(missing_ok=True)  # dataset.jsonl holds it all now
            forget_run(database, binding.run_id, [doc.id for doc in documents])
    finally:
        progress.close()
        directory.close()
    stale = [f"{record.stage}: {record.item}" for record in calls.stale]
    if stale:
        log.info("%d recorded call(s) were not asked for again (prompts or inputs changed)", len(stale))
    return RunResult(run_dir, manifest, generated.examples, stale)


def _check_database(database: DatabaseTarget, run_id: str) -> None:
    check_reachable(database)
    refuse_other_runs(database, run_id)


def model_runner(model: ResolvedModel, options: RunOptions, calls: CallLog, ledger: CostLedger) -> ModelRunner:
    """The run's model behind calls.jsonl (record, or --replay only) and the cost ledger."""
    recording = RecordingModel(model.model, calls, "replay" if options.replay else "record", ledger)
    settings = ModelSettings(temperature=options.temperature, seed=options.seed)
    return ModelRunner(recording, settings, AdaptiveLimiter(options.concurrency))


def output_files(generated: Generated) -> dict[str, tuple[bytes, int]]:
    """The dataset's files, in layout order: name -> (bytes, records)."""
    index = generated.index
    contents = [
        (json_bytes(list(index.use_cases.values())), len(index.use_cases)),
        (json_bytes(list(index.policies.values())), len(index.policies)),
        (json_bytes(generated.decisions), len(generated.decisions)),
        (json_bytes(generated.test_cases), len(generated.test_cases)),
        (jsonl_bytes(generated.examples), len(generated.examples)),
    ]
    return dict(zip(DATA_FILES, contents, strict=True))


def build_manifest(
    binding: RunBinding,
    generated: Generated,
    ledger: CostLedger,
    files: dict[str, tuple[bytes, int]],
    options: RunOptions,
    started_at: str,
) -> RunManifest:
    by_stage = ledger.by_stage()
    policies = list(generated.index.policies.values())
    return RunManifest(
        run_id=binding.run_id,
        tool_version=__version__,
        inputs=binding.inputs,
        config=binding.config,
        prompts=[PromptVersion(name=p.name, version=p.version, sha256=p.sha256) for p in all_prompts()],
        stages={
            name: generated.reports[name].model_copy(update={"usage": by_stage.get(name, TokenUsage())})
            for name in STAGES
        },
        usage_by_model=ledger.by_model(),
        usage_by_agent=ledger.by_agent(),
        calls=ledger.calls(),
        pricing=PRICING,
        coverage=[
            document_coverage(d, generated.examples, sum(p.document_id == d.document_id for p in policies))
            for d in generated.designs
        ],
        rule_coverage=rule_coverage(policies, generated.designs, generated.test_cases, generated.examples),
        contrast_pairs=written_pairs(generated.designs, generated.examples),
        outputs=[output_file(name, data, records) for name, (data, records) in files.items()],
        lineage=lineage(generated.examples, generated.index),
        volatile=VolatileInfo(
            started_at=started_at,
            finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
            stage_seconds=generated.stage_seconds,
            calls=CallCounts(live=ledger.live, replayed=ledger.replayed),
            max_cost_usd=float(options.max_cost) if options.max_cost is not None else None,
        ),
    )
