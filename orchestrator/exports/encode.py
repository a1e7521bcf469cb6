"""Byte encodings shared by the exporters: UTF-8 JSON that eval tools read back unchanged."""

from collections.abc import Iterable
from typing import Any

import orjson


def json_document(data: Any) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n"


def json_lines(rows: Iterable[Any]) -> bytes:
    return b"".join(orjson.dumps(row) + b"\n" for row in rows)
