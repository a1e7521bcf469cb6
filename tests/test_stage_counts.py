"""Every stage accounts for every item it was asked to make: accepted or rejected with a reason.

Checked on the manifests of the five recorded runs, replayed from their cassettes.
"""

import asyncio
import shutil
from pathlib import Path

import pytest

from synthgen.evals.suite import RECORDED_RUNS, RecordedRun
from synthgen.orchestrator.llm.resolve import resolve_model
from synthgen.orchestrator.run.pipeline import run_pipeline
from synthgen.orchestrator.rundir.documents import load_documents
from synthgen.schemas.layout import CALLS_FILE
from synthgen.schemas.manifest import RunManifest


async def _replay(case: RecordedRun, out: Path) -> RunManifest:
    out.mkdir()
    shutil.copyfile(case.cassette, out / CALLS_FILE)
    async with resolve_model(case.model, None, replay=True) as model:
        result = await run_pipeline(load_documents([case.document_path]), model, case.run_options(out, replay=True))
    return result.manifest


@pytest.mark.parametrize("case", RECORDED_RUNS, ids=[case.name for case in RECORDED_RUNS])
def test_requested_is_accepted_plus_rejected_in_every_stage(case: RecordedRun, tmp_path: Path) -> None:
    manifest = asyncio.run(_replay(case, tmp_path / "run"))
    stages = manifest.stages
    for name, report in stages.items():
        assert report.requested > 0, name
        assert report.requested == report.accepted + report.rejected, name
        assert report.rejected == sum(report.reasons.values()), name
    # What one stage accepts is what the next is asked for.
    assert stages["design"].accepted == stages["write"].requested
    assert stages["write"].accepted == stages["supervise"].requested
    assert stages["supervise"].accepted == next(o.records for o in manifest.outputs if o.name == "dataset.jsonl")
    assert stages["extract"].accepted == sum(
        o.records for o in manifest.outputs if o.name in ("use_cases.json", "policies.json")
    )
