"""A worker process: it takes the documents of the run in a database from the queue until none are left.

The process that started the run enqueued them and collects their results; a worker only runs
workflows. It learns the run (model, settings, run directory) from the queued workflows' saved
inputs, so `synthgen worker --database-url URL` needs nothing else. Model calls are appended to the
run directory's calls.jsonl, so workers must see that directory (same machine or a shared file
system). A worker that dies leaves its documents PENDING under its ID: starting a worker with the
same `--id` recovers them (DBOS recovers an executor's own pending workflows at launch).
"""

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from dbos import DBOSClient

from synthgen.errors import InputError
from synthgen.orchestrator.llm.costs import CostLedger
from synthgen.orchestrator.llm.recording import CallLog
from synthgen.orchestrator.llm.resolve import ResolvedModel
from synthgen.orchestrator.run.durable import (
    EXAMPLES_WORKFLOW,
    PLAN_WORKFLOW,
    application_version,
    launched,
    quiet_dbos,
    runs_in_progress,
    serving,
)
from synthgen.orchestrator.run.items import StageContext
from synthgen.orchestrator.run.pipeline import RunOptions, model_runner
from synthgen.orchestrator.rundir.database import DatabaseTarget
from synthgen.schemas.durable import RunSpec
from synthgen.schemas.layout import CALLS_FILE

log = logging.getLogger("synthgen")

IDLE_EXIT_SECONDS = 5.0  # no queued or running document of the run for this long: the run is over
POLL_SECONDS = 0.5


def find_run(target: DatabaseTarget) -> RunSpec:
    """The run whose documents are queued or running in the database; InputError if there is none."""
    no_run = InputError(
        f"the database {target.shown} has no run in progress: start one with "
        "`synthgen agent run DOCUMENTS --database-url URL`, then start workers"
    )
    if target.missing():
        raise no_run  # and no empty database file left behind
    try:
        with quiet_dbos():
            client = DBOSClient(system_database_url=target.url)
    except Exception:  # noqa: BLE001 - the database does not exist yet: no run ever used it
        raise no_run from None
    try:
        names = [PLAN_WORKFLOW, EXAMPLES_WORKFLOW]
        try:
            active = client.list_workflows(status=["ENQUEUED", "PENDING"], name=names, load_input=False,
                                           load_output=False)  # fmt: skip
        except Exception:  # noqa: BLE001 - DBOS has not set up its tables: no run ever used it
            raise no_run from None
        versions = sorted({w.app_version for w in active if w.app_version})
        if not versions:
            raise no_run
        if len(versions) > 1:  # `agent run` refuses a second run, so only an older synthgen leaves two
            raise InputError(f"the database {target.shown} holds {len(versions)} runs in progress: finish all but one")
        sample = client.list_workflows(status=["ENQUEUED", "PENDING"], name=names, app_version=versions[0], limit=1)
    finally:
        client.destroy()
    inputs = sample[0].input if sample else None
    if not inputs or not inputs["args"]:
        raise no_run
    return inputs["args"][0].run


@dataclass(frozen=True)
class WorkerReport:
    run_id: str
    live_calls: int
    replayed_calls: int


async def serve(target: DatabaseTarget, spec: RunSpec, model: ResolvedModel, executor_id: str) -> WorkerReport:
    """Run the run's queued documents under `executor_id` until none has been queued or running for a while."""
    run_dir = Path(spec.run_dir)
    if not run_dir.is_dir():
        raise InputError(
            f"run {spec.run_id}'s directory {run_dir} is not on this machine: workers append to its calls.jsonl, "
            "so run them where that directory is (or on a file system shared with it)"
        )
    calls = CallLog(run_dir / CALLS_FILE)
    ledger = CostLedger(None, model.name)
    options = RunOptions(
        seed=spec.config.seed, temperature=spec.config.temperature, concurrency=spec.config.concurrency,
        replay=spec.replay, max_failure_rate=spec.max_failure_rate,
    )  # fmt: skip
    context = StageContext(model_runner(model, options, calls, ledger), max_failure_rate=spec.max_failure_rate,
                           calls_path=calls.path)  # fmt: skip
    log.info("worker %s: serving run %s from %s", executor_id, spec.run_id, target.shown)
    async with (
        serving(spec, context) as served,
        launched(target, served, spec.run_id, executor_id, spec.config.concurrency),
    ):
        version = application_version(spec.run_id)
        idle_since: float | None = None
        while idle_since is None or time.monotonic() - idle_since < IDLE_EXIT_SECONDS:
            await asyncio.sleep(POLL_SECONDS)
            if version in await runs_in_progress():
                idle_since = None
            elif idle_since is None:
                idle_since = time.monotonic()
    log.info("worker %s: run %s has no queued document left: stopping", executor_id, spec.run_id)
    return WorkerReport(spec.run_id, ledger.live.requests, ledger.replayed.requests)
