"""Record the cassettes the eval suites replay: `python -m synthgen.evals.record [CASE ...]`.

Runs each recorded-run case live against its model (the embedded local model, so no key and no
network are needed) and keeps the run's calls.jsonl as evals/cassettes/<case>.calls.jsonl.
The run starts from the case's current cassette: calls whose requests did not change are
answered from it, so after a prompt change only the changed calls reach the model (and a
stopped recording continues where it stopped). Calls the finished run no longer asked for are
dropped from the cassette.
"""

import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

from synthgen.errors import SynthgenError
from synthgen.evals.suite import CASSETTES_DIR, RECORDED_RUNS, RecordedRun
from synthgen.orchestrator.llm.calls_file import read_calls, record_line
from synthgen.orchestrator.llm.resolve import resolve_model
from synthgen.orchestrator.run.pipeline import run_pipeline
from synthgen.orchestrator.rundir.documents import load_documents
from synthgen.schemas.layout import CALLS_FILE


async def record(case: RecordedRun) -> Path:
    """Run the case live; keep its calls even when the run fails, since that failure is a result too."""
    with tempfile.TemporaryDirectory(prefix=f"synthgen-record-{case.name}-") as tmp:
        run_dir = Path(tmp) / "run"
        options = case.run_options(run_dir, replay=False)
        if case.cassette.exists():
            run_dir.mkdir()
            shutil.copyfile(case.cassette, run_dir / CALLS_FILE)
        used: set[str] | None = None  # the calls of a finished run; a failed run keeps them all
        try:
            async with resolve_model(case.model, None) as model:
                result = await run_pipeline(load_documents([case.document_path]), model, options)
            used = {call.key for call in result.manifest.calls}
        except SynthgenError as err:
            print(f"{case.name}: the run failed, its calls are kept: {err}", file=sys.stderr)
        finally:
            CASSETTES_DIR.mkdir(parents=True, exist_ok=True)
            recorded = read_calls(run_dir / CALLS_FILE)
            kept = [record for record in recorded.records if used is None or record.key in used]
            case.cassette.write_bytes(b"".join(record_line(record) for record in kept))
    return case.cassette


def main(names: list[str]) -> None:
    cases = [case for case in RECORDED_RUNS if not names or case.name in names]
    for case in cases:
        started = time.monotonic()
        path = asyncio.run(record(case))
        print(f"{case.name}: {path} ({path.stat().st_size:,} bytes, {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])
