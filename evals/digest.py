"""Fingerprint what every cassette replays to: `python -m synthgen.evals.digest [--out DIR]`.

A refactor that must not change a single dataset prints the same lines before and after. Each
line is a case, an output file and the sha256 of its bytes; the manifest is fingerprinted without
its `volatile` part (timings, live/replayed counts), which is the only part allowed to differ.
"""

import argparse
import asyncio
import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

from synthgen.evals.suite import RECORDED_RUNS, RecordedRun

FINGERPRINTED = ("use_cases.json", "policies.json", "test_cases.json", "dataset.jsonl", "manifest.json")


def _fingerprint(path: Path) -> str:
    data = path.read_bytes()
    if path.name == "manifest.json":
        manifest = json.loads(data)
        manifest.pop("volatile", None)
        data = json.dumps(manifest, sort_keys=True).encode()
    return hashlib.sha256(data).hexdigest()


async def _replay(case: RecordedRun, out: Path) -> list[str]:
    from synthgen.errors import SynthgenError
    from synthgen.orchestrator.llm.calls_file import CALLS_FILE
    from synthgen.orchestrator.llm.local.resolve import aclose_local_models
    from synthgen.orchestrator.llm.resolve import resolve_model
    from synthgen.orchestrator.run.pipeline import run_pipeline
    from synthgen.orchestrator.rundir.documents import load_documents

    out.mkdir(parents=True)
    shutil.copyfile(case.cassette, out / CALLS_FILE)
    try:
        await run_pipeline(
            load_documents([case.document_path]),
            resolve_model(case.model, None, replay=True),
            case.run_options(out, replay=True),
        )
    except SynthgenError as err:
        return [f"{case.name}\terror\t{err}"]
    finally:
        await aclose_local_models()
    return [f"{case.name}\t{name}\t{_fingerprint(out / name)}" for name in FINGERPRINTED]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="keep the replayed run directories here (default: a temp dir)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="synthgen-digest-") as tmp:
        root = args.out or Path(tmp)
        for case in RECORDED_RUNS:
            for line in asyncio.run(_replay(case, root / case.name)):
                print(line, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
