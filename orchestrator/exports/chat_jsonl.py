"""OpenAI-style chat JSONL: one `{"messages": [...]}` line per example, the expected output as the final assistant turn.

The chat file holds nothing but `messages`, the one key every fine-tuning and chat-eval
loader accepts; the lineage goes to `metadata.jsonl`, whose line N describes line N of
`chat.jsonl` (and repeats the example ID so a reordered copy can still be joined).
"""

from typing import Any

from synthgen.orchestrator.exports.encode import json_lines
from synthgen.orchestrator.exports.files import ExportFiles
from synthgen.orchestrator.exports.loaded import LoadedRun
from synthgen.orchestrator.exports.view import ExampleView, example_views

CHAT_FILE = "chat.jsonl"
METADATA_FILE = "metadata.jsonl"


def export_chat_jsonl(run: LoadedRun) -> ExportFiles:
    views = list(example_views(run))
    return {
        CHAT_FILE: json_lines(_chat(v) for v in views),
        METADATA_FILE: json_lines(
            {"line": number, **v.lineage().model_dump(mode="json")} for number, v in enumerate(views, 1)
        ),
    }


def _chat(view: ExampleView) -> dict[str, Any]:
    messages = [m.model_dump(mode="json") for m in view.example.messages]
    return {"messages": [*messages, {"role": "assistant", "content": view.example.expected_output}]}
