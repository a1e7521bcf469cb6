"""Every stage accounts for every item it was asked to make: accepted or rejected with a reason.

Checked on the manifests of the five recorded runs, replayed from their cassettes.
"""

import asyncio
from pathlib import Path

import pytest

from synthgen.evals.suite import RECORDED_RUNS, RecordedRun, replay_into
from synthgen.schemas.layout import DATASET_FILE


@pytest.mark.parametrize("case", RECORDED_RUNS, ids=[case.name for case in RECORDED_RUNS])
def test_requested_is_accepted_plus_rejected_in_every_stage(case: RecordedRun, tmp_path: Path) -> None:
    manifest = asyncio.run(replay_into(case, tmp_path / "run")).manifest
    stages = manifest.stages
    for name, report in stages.items():
        assert report.requested > 0, name
        assert report.requested == report.accepted + report.rejected, name
        assert report.rejected == sum(report.reasons.values()), name
    # What one stage accepts is what the next is asked for.
    assert stages["design"].accepted == stages["write"].requested
    assert stages["write"].accepted == stages["supervise"].requested
    assert stages["supervise"].accepted == next(o.records for o in manifest.outputs if o.name == DATASET_FILE)
    assert stages["extract"].accepted == sum(
        o.records for o in manifest.outputs if o.name in ("use_cases.json", "policies.json")
    )
