"""Check the bytes of an output file against its model and say exactly where each problem is.

Problems read like `dataset.jsonl line 3: evaluation_criteria.0.policy_id: Field required`:
the file, the record (the JSON array index, or the line of a JSONL file, counted from 1), the
field path inside the record, and pydantic's message. IDs must also be unique within a file.
"""

from collections.abc import Iterator, Sequence
from typing import Any

import orjson
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from synthgen.schemas.json_schema import OutputContract, OutputKind, contract


def validate_json_file(kind: OutputKind, data: bytes) -> list[str]:
    """Every problem with the content of output file `kind`; an empty list means it is valid."""
    output = contract(kind)
    if output.jsonl:
        return list(_jsonl_problems(output, data))
    return list(_json_problems(output, data))


def _json_problems(output: OutputContract, data: bytes) -> Iterator[str]:
    try:
        records = output.adapter.validate_json(data)
    except ValidationError as error:
        items = _raw_items(data)
        for detail in error.errors(include_url=False):
            yield _located(output.file_name, detail, items)
        return
    if isinstance(records, list):
        yield from _duplicate_ids([(f"{output.file_name}[{index}]", record.id) for index, record in enumerate(records)])


def _jsonl_problems(output: OutputContract, data: bytes) -> Iterator[str]:
    valid: list[tuple[str, str]] = []
    for number, line in enumerate(_jsonl_lines(data), 1):
        where = f"{output.file_name} line {number}"
        if not line.strip():
            yield f"{where}: blank line; JSONL has one record on every line"
            continue
        try:
            record = output.adapter.validate_json(line)
        except ValidationError as error:
            for detail in error.errors(include_url=False):
                yield _problem(where, detail)
            continue
        valid.append((where, record.id))
    yield from _duplicate_ids(valid)


def _jsonl_lines(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # the newline that ends the last record does not start another
    return lines


def _located(file_name: str, detail: ErrorDetails, items: list[Any]) -> str:
    """A problem inside a JSON array names the item by its index and, when it has one, its id."""
    location = detail["loc"]
    if not location or not isinstance(location[0], int):
        return _problem(file_name, detail)
    index, *inner = location
    item = items[index] if index < len(items) else None
    item_id = item.get("id") if isinstance(item, dict) else None
    where = f"{file_name}[{index}]" + (f" ({item_id})" if isinstance(item_id, str) else "")
    return _problem(where, {**detail, "loc": tuple(inner)})


def _raw_items(data: bytes) -> list[Any]:
    """The parsed array, to name failing items by id; pydantic's errors carry only indexes."""
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        return []
    return parsed if isinstance(parsed, list) else []


def _problem(where: str, detail: ErrorDetails) -> str:
    path = ".".join(str(part) for part in detail["loc"])
    return f"{where}: {path}: {detail['msg']}" if path else f"{where}: {detail['msg']}"


def _duplicate_ids(records: Sequence[tuple[str, str]]) -> Iterator[str]:
    first_seen: dict[str, str] = {}
    for where, item_id in records:
        if item_id in first_seen:
            yield f"{where}: id: {item_id} repeats the id of {first_seen[item_id]}"
        else:
            first_seen[item_id] = where
