"""The state of a run in progress, read from its DBOS system database: `synthgen status` and the run's own progress line.

Each document has a plan workflow and an examples workflow (run/durable.py); their statuses in the
database say which documents are done, running, queued or failed, in whichever process they run.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dbos import DBOS, DBOSClient, WorkflowStatus

from synthgen.errors import InputError
from synthgen.orchestrator.llm.calls_file import read_calls
from synthgen.orchestrator.llm.costs import usage_cost
from synthgen.orchestrator.run.durable import EXAMPLES_WORKFLOW, FAILED, PLAN_WORKFLOW, application_version
from synthgen.orchestrator.rundir.database import check_reachable, database_target
from synthgen.schemas.durable import DocumentExamples
from synthgen.schemas.layout import BINDING_FILE, CALLS_FILE, DATABASE_FILE, DATASET_FILE, MANIFEST_FILE
from synthgen.schemas.manifest import RunBinding, RunManifest, TokenUsage

log = logging.getLogger("synthgen")
PROGRESS_SECONDS = 10.0  # between two progress lines of a run of several documents


@dataclass
class RunState:
    documents: int  # in the run
    done: int = 0  # examples written and supervised
    in_flight: int = 0  # a workflow running in some process
    queued: int = 0  # waiting for a free slot (or, after planning, for the other documents' plans)
    failed: dict[str, str] = field(default_factory=dict)  # document ID -> reason
    examples: int = 0  # accepted so far
    started: float | None = None  # epoch seconds of the first workflow
    finished_units: int = 0  # workflows ended (two per document)

    def eta_seconds(self, now: float | None = None) -> float | None:
        """Time left at the pace so far: each document is two workflows (plan, examples)."""
        if self.started is None or not self.finished_units:
            return None
        elapsed = (now or time.time()) - self.started
        left = max(0, 2 * self.documents - self.finished_units - len(self.failed))
        return elapsed * left / self.finished_units

    def line(self, tokens: int, cost: str, now: float | None = None) -> str:
        eta = self.eta_seconds(now)
        parts = [
            (
                f"documents {self.done}/{self.documents} done, {self.in_flight} in flight, {self.queued} queued, "
                f"{len(self.failed)} failed"
            ),
            f"{self.examples} examples",
            f"{tokens:,} tokens",
            cost,
        ]
        if eta is not None and self.done + len(self.failed) < self.documents:
            parts.append(f"ETA {duration(eta)}")
        return " · ".join(parts)


def duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def run_state(documents: list[str], workflows: list[WorkflowStatus]) -> RunState:
    """The state of `documents` (their IDs) from their workflows' statuses (outputs loaded)."""
    state = RunState(documents=len(documents))
    by_document: dict[str, dict[str, WorkflowStatus]] = {}
    for workflow in workflows:
        phase = "plan" if workflow.name == PLAN_WORKFLOW else "examples" if workflow.name == EXAMPLES_WORKFLOW else None
        if phase is None:
            continue
        by_document.setdefault(workflow.workflow_id.rsplit(":", 1)[-1], {})[phase] = workflow
        if workflow.created_at is not None:
            started = workflow.created_at / 1000
            state.started = started if state.started is None else min(state.started, started)
        if workflow.status == "SUCCESS" or workflow.status in FAILED:
            state.finished_units += 1
    for document in documents:
        phases = by_document.get(document, {})
        failed = [w for w in phases.values() if w.status in FAILED]
        current = phases.get("examples") or phases.get("plan")
        if failed:
            state.failed[document] = str(failed[0].error or failed[0].status).splitlines()[0]
        elif (
            current is None
            or current.status == "ENQUEUED"
            or (current.name == PLAN_WORKFLOW and current.status == "SUCCESS")
        ):
            state.queued += 1
        elif current.status == "PENDING":
            state.in_flight += 1
        elif current.status == "SUCCESS":
            state.done += 1
            if isinstance(current.output, DocumentExamples):
                state.examples += len(current.output.examples)
    return state


def read_status(run_dir: Path, database_url: str | None) -> str:
    """The status lines of the run in `run_dir`, from its database and its calls.jsonl."""
    bound = run_dir / BINDING_FILE
    if not bound.is_file():
        raise InputError(f"{run_dir} is not a run directory (no {BINDING_FILE}): give the folder a run wrote")
    binding = RunBinding.model_validate_json(bound.read_bytes())
    target = database_target(database_url, run_dir)
    if target.missing():  # never create an empty database by looking into it
        where = f"{run_dir} has no {DATABASE_FILE}" if target.in_run_dir else f"{target.shown} does not exist"
        raise InputError(f"{where}: give the --database-url the run was started with, or wait until it has started")
    check_reachable(target)
    client = DBOSClient(system_database_url=target.url)
    try:
        workflows = client.list_workflows(
            app_version=application_version(binding.run_id), name=[PLAN_WORKFLOW, EXAMPLES_WORKFLOW], load_input=False
        )
    finally:
        client.destroy()
    state = run_state([doc.id for doc in binding.inputs], workflows)
    calls = read_calls(run_dir / CALLS_FILE).records
    usage = sum((record.usage for record in calls), TokenUsage())
    paths = {doc.id: doc.path for doc in binding.inputs}
    tokens = usage.input_tokens + usage.output_tokens
    lines = [f"run        {binding.run_id}", f"database   {target.shown}"]
    manifest = run_dir / MANIFEST_FILE
    if not workflows and manifest.is_file():  # a finished run leaves the database (durable.forget_run)
        written = RunManifest.model_validate_json(manifest.read_bytes())
        examples = next((o.records for o in written.outputs if o.name == DATASET_FILE), 0)
        lines.append(f"finished   {len(binding.inputs)} documents · {examples} examples · {tokens:,} tokens · "
                     f"{usage_cost(usage)}: see {manifest}")  # fmt: skip
    else:
        lines.append(f"progress   {state.line(tokens, usage_cost(usage))}")
    lines += [f"failed     {paths.get(doc, doc)}: {reason}" for doc, reason in state.failed.items()]
    return "\n".join(lines)


async def report_progress(documents: list[str], run_id: str, tokens_and_cost: Callable[[], tuple[int, str]],
                          every: float = PROGRESS_SECONDS) -> None:  # fmt: skip
    """Log the run's state line every `every` seconds, until cancelled: all processes' documents count."""
    while True:
        await asyncio.sleep(every)
        workflows = await DBOS.list_workflows_async(
            app_version=application_version(run_id), name=[PLAN_WORKFLOW, EXAMPLES_WORKFLOW], load_input=False
        )
        state = run_state(documents, workflows)
        log.info("progress: %s", state.line(*tokens_and_cost()), extra={"event": "run_progress"})
