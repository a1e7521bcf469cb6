"""The whole pipeline on the real embedded model, through the CLI, on a tiny document (slow: ~1-3 min)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from synthgen.orchestrator.local_models import weights

TINY_POLICY = """\
# Returns

- Customers MAY return unworn shoes within 30 days of delivery for a full refund.
- The assistant MUST NOT accept returns of worn shoes.
- The assistant MUST ask for the order number before starting a return.
"""


@pytest.mark.slow
def test_local_model_runs_the_pipeline_on_a_tiny_document(tmp_path: Path) -> None:
    if not weights.installed("local"):
        message = "local model weights are not installed: run `synthgen models pull local`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    doc = tmp_path / "returns.md"
    doc.write_text(TINY_POLICY)
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    run = subprocess.run(
        [sys.executable, "-m", "synthgen", "agent", "run", str(doc), "--out", str(tmp_path / "run"),
         "--max-examples", "2"],
        env=env, capture_output=True, text=True, timeout=900,
    )
    assert run.returncode == 0, run.stderr
    assert "using the embedded local model local:0.5b" in run.stderr
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["config"]["model"] == "local:0.5b" and manifest["config"]["demo_quality"] is True
    assert manifest["volatile"]["calls"]["live"]["requests"] >= 4
    validated = subprocess.run([sys.executable, "-m", "synthgen", "validate", str(tmp_path / "run")],
                               capture_output=True, text=True)
    assert validated.returncode == 0, validated.stderr
