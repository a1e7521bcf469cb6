"""The whole pipeline on the real embedded model, through the CLI (slow: ~5 min on two cores).

On the example policy's first section (its title, scope and conduct rules), not a made-up snippet:
the whole document takes the 1.5B model ~25 minutes on two cores (~5.5 tokens/s), the recorded
cassette runs it whole.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from synthgen.orchestrator.llm.local import weights

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_local_model_runs_the_pipeline_end_to_end(tmp_path: Path) -> None:
    lines = (REPO / "examples" / "refund_policy.md").read_text().splitlines()
    section = next(i for i, line in enumerate(lines) if line.startswith("## 2."))
    doc = tmp_path / "refund_policy_scope.md"
    doc.write_text("\n".join(lines[:section]) + "\n")
    if not weights.installed("local"):
        message = "local model weights are not installed: run `synthgen models pull local`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "synthgen",
            "agent",
            "run",
            str(doc),
            "--out",
            str(tmp_path / "run"),
            "--max-examples",
            "1",
        ],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=1800,
        cwd=REPO,
    )
    assert "using the embedded local model local:1.5b" in run.stderr
    recorded = [json.loads(line) for line in (tmp_path / "run" / "calls.jsonl").read_text().splitlines()]
    assert {"extract", "design", "write"} <= {record["stage"] for record in recorded}  # every stage ran on it
    if run.returncode != 0:
        # The substance gates may reject the one example a small model writes; the run then says so in one line.
        assert run.stderr.splitlines()[-1].startswith("synthgen: error: no example passed the gates"), run.stderr
        return
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["config"]["model"] == "local:1.5b" and manifest["config"]["demo_quality"] is True
    assert manifest["volatile"]["calls"]["live"]["requests"] >= 4  # extract, design, write, review
    assert (tmp_path / "run" / "dataset.jsonl").read_text().count("\n") == 1
    validated = subprocess.run(
        [sys.executable, "-m", "synthgen", "validate", str(tmp_path / "run")],
        check=False,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert validated.returncode == 0, validated.stderr
