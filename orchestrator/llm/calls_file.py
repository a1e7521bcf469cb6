"""calls.jsonl on disk: the one reader and the one line format of the file.

Every part of synthgen that looks into calls.jsonl goes through `read_calls`: resume and
--replay (`recording.CallLog`), the cost already recorded (`costs.recorded_cost`), the line
printed when a run is interrupted, and `synthgen trace --item`. A record counts only when it
parses as a `CallRecord`, its checksum matches and its response is a pydantic-ai response.
"""

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError
from pydantic_ai.messages import ModelResponse

from synthgen.orchestrator.rundir.directory import open_run_file
from synthgen.schemas.calls import CallRecord, CallRequest

RESPONSE = TypeAdapter(ModelResponse)


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


def read_calls(path: Path) -> CallsFile:
    """Every record of calls.jsonl that can be trusted; a missing file has none, a symlink is refused."""
    if not path.exists() and not path.is_symlink():
        return CallsFile()
    with os.fdopen(open_run_file(path, os.O_RDONLY), "rb") as handle:
        return parse_calls(path.name, handle.read())


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
