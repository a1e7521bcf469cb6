"""The whole pipeline on the real embedded model, through the CLI, on the example policy (slow: ~2-5 min).

The example policy, not a made-up snippet: on a five-line document the 0.5B model fills every field
to its bound and never gets an extraction through, while this document is the one the README's
first command and the eval cassette run it on.
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
    if not weights.installed("local"):
        message = "local model weights are not installed: run `synthgen models pull local`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    run = subprocess.run(
        # From the checkout, with the README's relative document path.
        [
            sys.executable,
            "-m",
            "synthgen",
            "agent",
            "run",
            "examples/refund_policy.md",
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
    assert run.returncode == 0, run.stderr
    assert "using the embedded local model local:1.5b" in run.stderr
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
