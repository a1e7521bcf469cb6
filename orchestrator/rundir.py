"""The run directory: where a run's files go, written atomically."""

import hashlib
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

import orjson
from pydantic import BaseModel

from synthgen.errors import RunDirectoryError
from synthgen.schemas.document import SourceDocument
from synthgen.schemas.manifest import OutputFile, RunConfig

RUNS_DIR = Path("runs")


def run_id_for(documents: Sequence[SourceDocument], config: RunConfig) -> str:
    """Same documents and settings give the same ID, so a re-run lands in the same directory."""
    digest = hashlib.sha256()
    for doc in sorted(documents, key=lambda d: d.sha256):
        digest.update(doc.sha256.encode())
    # Concurrency changes how fast a run goes, never what it writes.
    digest.update(config.model_dump_json(exclude={"concurrency"}).encode())
    stem = re.sub(r"[^a-z0-9]+", "-", Path(documents[0].path).stem.lower()).strip("-") or "run"
    more = f"-and-{len(documents) - 1}-more" if len(documents) > 1 else ""
    return f"{stem}{more}-{digest.hexdigest()[:8]}"


def check_run_dir(path: Path, run_id: str) -> None:
    """Refuse a directory that cannot take this run's files, before any model call is made."""
    if path.exists() and not path.is_dir():
        raise RunDirectoryError(f"--out {path} is a file, not a directory: choose another --out")
    existing = path / "manifest.json"
    if existing.exists():
        try:
            previous = orjson.loads(existing.read_bytes()).get("run_id")
        except (orjson.JSONDecodeError, AttributeError):
            previous = None
        if previous != run_id:
            raise RunDirectoryError(
                f"{path} holds another run ({previous or 'unreadable manifest'}): choose another --out"
            )
    probe = path if path.exists() else next((p for p in path.parents if p.exists()), Path("."))
    if not os.access(probe, os.W_OK):
        raise RunDirectoryError(f"{probe} is not writable: choose another --out")


def json_bytes(data: BaseModel | Sequence[BaseModel]) -> bytes:
    if isinstance(data, BaseModel):
        plain = data.model_dump(mode="json")
    else:
        plain = [item.model_dump(mode="json") for item in data]
    return orjson.dumps(plain, option=orjson.OPT_INDENT_2) + b"\n"


def jsonl_bytes(items: Sequence[BaseModel]) -> bytes:
    return b"".join(orjson.dumps(item.model_dump(mode="json")) + b"\n" for item in items)


def write_atomically(path: Path, data: bytes) -> None:
    """Readers see the old file or the whole new one, never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def output_file(name: str, data: bytes, records: int) -> OutputFile:
    return OutputFile(name=name, sha256=hashlib.sha256(data).hexdigest(), records=records)
