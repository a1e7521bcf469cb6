"""Format name -> exporter. Exporters only render bytes; writing is `files.write_exports`' job."""

from collections.abc import Callable
from dataclasses import dataclass

from synthgen.errors import InputError
from synthgen.orchestrator.exports.chat_jsonl import export_chat_jsonl
from synthgen.orchestrator.exports.deepeval import export_deepeval
from synthgen.orchestrator.exports.evidently import export_evidently
from synthgen.orchestrator.exports.files import ExportFiles
from synthgen.orchestrator.exports.giskard import export_giskard
from synthgen.orchestrator.exports.hf import export_hf
from synthgen.orchestrator.exports.loaded import LoadedRun
from synthgen.orchestrator.exports.pydantic_evals import export_pydantic_evals

Exporter = Callable[[LoadedRun], ExportFiles]

ALL = "all"


@dataclass(frozen=True)
class ExportFormat:
    name: str
    summary: str
    render: Exporter


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("deepeval", "DeepEval goldens (EvaluationDataset JSON)", export_deepeval),
        ExportFormat("evidently", "Evidently table (CSV) + DataDefinition", export_evidently),
        ExportFormat("giskard", "Giskard RAGET QATestset JSONL", export_giskard),
        ExportFormat("pydantic-evals", "pydantic-evals Dataset JSON + JSON Schema", export_pydantic_evals),
        ExportFormat("chat-jsonl", "OpenAI-style chat JSONL + line-aligned metadata", export_chat_jsonl),
        ExportFormat("hf", "Hugging Face datasets JSONL + dataset card", export_hf),
    )
}


def resolve_formats(name: str) -> list[ExportFormat]:
    """The formats a `--format` value asks for; an unknown name lists the valid ones."""
    key = name.strip().lower().replace("_", "-")
    if key == ALL:
        return list(FORMATS.values())
    if key not in FORMATS:
        raise InputError(f"unknown export format {name!r}: choose one of {', '.join([*FORMATS, ALL])}")
    return [FORMATS[key]]
