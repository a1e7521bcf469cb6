"""Giskard RAGET: the test-set JSONL that `giskard.rag.QATestset.load` reads (giskard 2.19).

Giskard 3 (Python >= 3.12 only) has no RAGET; 2.19 is the newest release for Python 3.11.
Each line is one `QuestionSample`: exactly its six fields, because the loader passes every key
to the dataclass. `question_type` and `topic` are the metadata RAGET's report groups by; the
synthgen lineage (IDs, criteria, evidence, document hash) sits beside them.
"""

from typing import Any

from synthgen.orchestrator.exports.encode import json_lines
from synthgen.orchestrator.exports.files import ExportFiles
from synthgen.orchestrator.exports.loaded import LoadedRun
from synthgen.orchestrator.exports.view import ExampleView, example_views

TESTSET_FILE = "testset.jsonl"


def export_giskard(run: LoadedRun) -> ExportFiles:
    return {TESTSET_FILE: json_lines(_sample(v) for v in example_views(run))}


def reference_context(view: ExampleView) -> str:
    # RAGET writes "Document <id>: <text>" blocks; the line range says where the quote is.
    return "\n\n".join(
        f"Document {view.document.id} lines {e.line_start}-{e.line_end} ({e.policy_id}): {e.quote}"
        for e in view.evidence
    )


def _sample(view: ExampleView) -> dict[str, Any]:
    return {
        "id": view.example.id,
        "question": view.question,
        "reference_answer": view.example.expected_output,
        "reference_context": reference_context(view),
        "conversation_history": [m.model_dump(mode="json") for m in view.history],
        "metadata": {
            "question_type": "conversational" if view.is_multi_turn else "situational",
            "topic": view.use_case.name,
            "seed_document_id": view.document.id,
            "system_prompt": view.system_prompt,
            **view.lineage().model_dump(mode="json"),
        },
    }
