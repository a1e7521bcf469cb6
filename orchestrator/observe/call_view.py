"""The exact prompt and answer of recorded model calls, read from calls.jsonl, for `synthgen trace --item`.

Like `llm logs`: each call shows what was sent (instructions, system and user messages, earlier
turns, tool results and retry feedback), the output schema, tools and settings, then the answer.
Records written before calls.jsonl kept requests show the answer alone.
"""

import textwrap
from typing import Any

import orjson
from pydantic import ValidationError
from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter, ModelRequest, ModelResponse

from synthgen.orchestrator.llm.calls_file import RESPONSE
from synthgen.schemas.calls import CallRecord

INDENT = "    "


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS, default=str).decode()


def _block(title: str, body: str) -> list[str]:
    return [f"  {title}:", textwrap.indent(body, INDENT) if body else f"{INDENT}(empty)"]


def _part_lines(part: Any, speaker: str = "assistant") -> list[str]:
    """A message part under its heading; `speaker` names the model's own parts (an earlier turn, or the answer)."""
    kind = part.part_kind
    if kind == "system-prompt":
        return _block("system", part.content)
    if kind == "user-prompt":
        return _block("user", _text(part.content))
    if kind == "text":
        return _block(speaker, part.content)
    if kind == "thinking":
        return _block(f"{speaker} thinking", part.content)
    if kind == "tool-call":
        return _block(f"{speaker} calls {part.tool_name}", _text(part.args_as_dict()))
    if kind == "tool-return":
        return _block(f"{part.tool_name} returned", _text(part.content))
    if kind in ("retry-prompt", "retry-feedback"):
        return _block(f"retry feedback{f' on {part.tool_name}' if getattr(part, 'tool_name', None) else ''}",
                      _text(part.content))  # fmt: skip
    return _block(kind, _text(getattr(part, "content", None)))


def _message_lines(message: ModelMessage) -> list[str]:
    lines: list[str] = []
    if isinstance(message, ModelRequest) and message.instructions:
        lines += _block("instructions", message.instructions)
    for part in message.parts:
        lines += _part_lines(part)
    return lines


def answer_lines(response: ModelResponse) -> list[str]:
    lines = [line for part in response.parts for line in _part_lines(part, speaker="answer")]
    return lines or ["  answer: (no parts)"]


def call_lines(number: int, total: int, record: CallRecord, replayed: bool | None) -> list[str]:
    """One recorded call, request then answer."""
    how = "" if replayed is None else (" · replayed" if replayed else " · live")
    lines = [
        f"── call {number} of {total} · {record.stage} · {record.item} · {record.model}{how} · key {record.key[:12]}"
    ]
    request = record.request
    if request is None:
        lines.append("  (request not recorded: this calls.jsonl was written before synthgen kept requests)")
    else:
        settings = ", ".join(f"{k}={_text(v)}" for k, v in sorted(request.settings.items())) or "none"
        lines.append(
            f"  output {request.output_schema or 'text'} · tools {', '.join(request.tools) or 'none'}"
            f" · settings {settings}"
        )
        try:
            messages = ModelMessagesTypeAdapter.validate_python(request.messages)
        except ValidationError:
            lines += _block("messages (not readable as pydantic-ai messages)", _text(request.messages))
        else:
            for message in messages:
                lines += _message_lines(message)
    lines += answer_lines(RESPONSE.validate_python(record.response))
    return lines
