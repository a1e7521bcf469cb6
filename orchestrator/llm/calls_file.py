"""calls.jsonl on disk: the one reader, the one writer and the one line format of the file.

Every part of synthgen that looks into calls.jsonl goes through `read_calls`: resume and
--replay (`recording.CallLog`), the cost already recorded (`costs.recorded_cost`), the line
printed when a run is interrupted, and `synthgen trace --item`. A record counts only when it
parses as a `CallRecord`, its checksum matches and its response is a pydantic-ai response.

Several processes may append to one calls.jsonl (the run and its `synthgen worker`s). Each record
is appended whole while its writer holds an exclusive `flock` on the file, and readers hold a
shared one, so nobody sees half a record that is still being written. A last line without its
newline can then only be left by a writer that died in the middle: whoever next holds the lock
ends it cleanly (cuts it off, or adds the newline a whole record lacks) before appending.
"""

import fcntl
import hashlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError
from pydantic_ai.messages import ModelResponse

from synthgen.orchestrator.rundir.directory import open_run_file
from synthgen.schemas.calls import CallRecord, CallRequest

RESPONSE = TypeAdapter(ModelResponse)
log = logging.getLogger("synthgen")


def checksum(key: str, response: dict[str, Any], request: CallRequest | None = None) -> str:
    """sha256 of key + response, and of the request when the record has one (older records do not)."""
    data = key.encode() + orjson.dumps(response, option=orjson.OPT_SORT_KEYS)
    if request is not None:
        data += orjson.dumps(request.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(data).hexdigest()


def record_line(record: CallRecord) -> bytes:
    """The bytes one record takes in calls.jsonl, newline included."""
    return orjson.dumps(record.model_dump(mode="json")) + b"\n"


@dataclass
class CallsFile:
    """What `read_calls` found: the good records, and why each other line was left out."""

    records: list[CallRecord] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "calls.jsonl line 3: not valid JSON"
    torn: bytes = b""  # after the last newline, not JSON: a record a crash cut short (nothing was lost)
    unterminated: bool = False  # the last record is whole but its newline is missing: kept, not paid again


@contextmanager
def _locked(path: Path, flags: int, exclusive: bool) -> Iterator[int]:
    """A descriptor on calls.jsonl, held under flock for the block: exclusive to write, shared to read."""
    fd = open_run_file(path, flags)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield fd
    finally:
        os.close(fd)  # releases the lock


def _read_from(fd: int, offset: int) -> bytes:
    size = os.fstat(fd).st_size
    chunks = []
    while offset < size:
        chunk = os.pread(fd, size - offset, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def read_calls(path: Path) -> CallsFile:
    """Every record of calls.jsonl that can be trusted; a missing file has none, a symlink is refused."""
    if not path.exists() and not path.is_symlink():
        return CallsFile()
    with _locked(path, os.O_RDONLY, exclusive=False) as fd:
        return parse_calls(path.name, _read_from(fd, 0))


def load_calls(path: Path) -> tuple[CallsFile, int]:
    """Every record of calls.jsonl, with its last line ended cleanly, and the size read (for `read_new_calls`)."""
    if not path.exists() and not path.is_symlink():
        return CallsFile(), 0
    with _locked(path, os.O_RDWR, exclusive=True) as fd:
        data = _read_from(fd, 0)
        found = parse_calls(path.name, data)
        return found, _end_cleanly(fd, path, data)


def read_new_calls(path: Path, offset: int) -> tuple[list[CallRecord], int]:
    """The whole records appended since `offset` (a size `load_calls` or this returned), and the new offset.

    How a process sees the answers other processes recorded after it had read the file."""
    if not path.exists():
        return [], offset
    with _locked(path, os.O_RDONLY, exclusive=False) as fd:
        data = _read_from(fd, offset)
    whole = data[: data.rfind(b"\n") + 1]  # a dead writer's torn line is not a record yet
    found = parse_calls(path.name, whole)
    return found.records, offset + len(whole)


def append_call(path: Path, record: CallRecord) -> tuple[int, int]:
    """Append one record, whole, durably, with no other writer in between: (its start, its end) in the file."""
    line = record_line(record)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, exclusive=True) as fd:
        start = _end_cleanly(fd, path)
        view = memoryview(line)
        while view:  # one write() normally; a short write goes on where it stopped, still under the lock
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    return start, start + len(line)


def _end_cleanly(fd: int, path: Path, data: bytes | None = None) -> int:
    """Under the exclusive lock: the file ends with a newline (the torn line of a writer that died is cut
    off; a whole record whose newline is missing gets it). The size of the file afterwards."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return size
    if data is None:
        data = _read_from(fd, 0)
    tail = data[data.rfind(b"\n") + 1 :]
    if _is_json(tail):
        os.lseek(fd, 0, os.SEEK_END)
        os.write(fd, b"\n")
        return size + 1
    os.ftruncate(fd, size - len(tail))
    log.info("%s: ignored an incomplete last record (a run stopped while writing it)", path)
    return size - len(tail)


def parse_calls(name: str, data: bytes) -> CallsFile:
    """The records of calls.jsonl's bytes. Only a last line that is not JSON counts as torn."""
    found = CallsFile()
    lines = data.split(b"\n")
    last = lines.pop()
    if last and _is_json(last):
        lines.append(last)
        found.unterminated = True
    else:
        found.torn = last
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        record, problem = _parse(line)
        if record is not None:
            found.records.append(record)
        else:
            found.problems.append(f"{name} line {number}: {problem}")
    return found


def _is_json(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


def _parse(line: bytes) -> tuple[CallRecord | None, str]:
    try:
        record = CallRecord.model_validate_json(line)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return None, "not valid JSON" if first["type"] == "json_invalid" else f"bad record ({where}: {first['msg']})"
    if checksum(record.key, record.response, record.request) != record.checksum:
        return None, "checksum does not match (edited by hand?)"
    try:
        RESPONSE.validate_python(record.response)
    except ValidationError:
        return None, "response is not a model response"
    return record, ""
