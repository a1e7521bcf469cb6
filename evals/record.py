"""Record the cassettes the eval suites replay: `python -m synthgen.evals.record [CASE ...]`.

Runs each recorded-run case live against its model (the embedded local model, so no key and no
network are needed) and keeps the run's calls.jsonl as evals/cassettes/<case>.calls.jsonl.
"""

import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

from synthgen.errors import SynthgenError
from synthgen.evals.suite import CASSETTES_DIR, RECORDED_RUNS, RecordedRun
from synthgen.orchestrator.llm.calls_file import CALLS_FILE
from synthgen.orchestrator.llm.local.resolve import aclose_local_models
from synthgen.orchestrator.llm.resolve import resolve_model
from synthgen.orchestrator.run.pipeline import run_pipeline
from synthgen.orchestrator.rundir.documents import load_documents


async def record(case: RecordedRun) -> Path:
    """Run the case live; keep its calls even when the run fails, since that failure is a result too."""
    with tempfile.TemporaryDirectory(prefix=f"synthgen-record-{case.name}-") as tmp:
        run_dir = Path(tmp) / "run"
        options = case.run_options(run_dir, replay=False)
        try:
            await run_pipeline(load_documents([case.document_path]), resolve_model(case.model, None), options)
        except SynthgenError as err:
            print(f"{case.name}: the run failed, its calls are kept: {err}", file=sys.stderr)
        finally:
            await aclose_local_models()
            CASSETTES_DIR.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(run_dir / CALLS_FILE, case.cassette)
    return case.cassette


def main(names: list[str]) -> None:
    cases = [case for case in RECORDED_RUNS if not names or case.name in names]
    for case in cases:
        started = time.monotonic()
        path = asyncio.run(record(case))
        print(f"{case.name}: {path} ({path.stat().st_size:,} bytes, {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])
