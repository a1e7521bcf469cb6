"""Fingerprint what every cassette replays to: `python -m synthgen.evals.digest [--out DIR]`.

A refactor that must not change a single dataset prints the same lines before and after. Each
line is a case, an output file and the sha256 of its bytes; the manifest is fingerprinted without
its `volatile` part (timings, live/replayed counts), which is the only part allowed to differ.
"""

import argparse
import asyncio
import hashlib
import json
import sys
import tempfile
from pathlib import Path

from synthgen.errors import SynthgenError
from synthgen.evals.suite import RECORDED_RUNS, RecordedRun, replay_into
from synthgen.schemas.layout import DATA_FILES, MANIFEST_FILE

FINGERPRINTED = (*DATA_FILES, MANIFEST_FILE)


def _fingerprint(path: Path) -> str:
    data = path.read_bytes()
    if path.name == MANIFEST_FILE:
        manifest = json.loads(data)
        manifest.pop("volatile", None)
        data = json.dumps(manifest, sort_keys=True).encode()
    return hashlib.sha256(data).hexdigest()


async def _replay(case: RecordedRun, out: Path) -> list[str]:
    out.mkdir(parents=True)  # never over an earlier run
    try:
        await replay_into(case, out)
    except SynthgenError as err:
        return [f"{case.name}\terror\t{err}"]
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
