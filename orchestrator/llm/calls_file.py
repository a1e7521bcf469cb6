"""calls.jsonl on disk: the one reader and the one line format of the file.

Every part of synthgen that looks into calls.jsonl goes through `read_calls`: resume and
--replay (`recording.CallLog`), the cost already recorded (`costs.recorded_cost`), the line
printed when a run is interrupted, and `synthgen trace --item`. A record counts only when it
parses as a `CallRecord`, its checksum matches and its response is a pydantic-ai response.
"""

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError
from pydantic_ai.messages import ModelResponse

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
    torn: bytes = b""  # after the last newline: a record a crash cut short (not a problem: nothing was lost)


def read_calls(path: Path) -> CallsFile:
    """Every record of calls.jsonl that can be trusted; a missing file has none."""
    found = CallsFile()
    if not path.is_file():
        return found
    lines = path.read_bytes().split(b"\n")
    found.torn = lines.pop()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        record, problem = _parse(line)
        if record is not None:
            found.records.append(record)
        else:
            found.problems.append(f"{path.name} line {number}: {problem}")
    return found


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
