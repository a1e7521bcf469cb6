"""Format name -> exporter. Exporters only render bytes; writing is `files.write_exports`' job.

Light on purpose: `synthgen export --help` lists the formats from here, so an exporter module (and
the pydantic models it reads a run with) is imported only when its format is rendered.
"""

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from synthgen.errors import InputError

if TYPE_CHECKING:
    from synthgen.orchestrator.exports.files import ExportFiles
    from synthgen.orchestrator.exports.loaded import LoadedRun

Exporter = Callable[["LoadedRun"], "ExportFiles"]

ALL = "all"


@dataclass(frozen=True)
class ExportFormat:
    name: str
    summary: str
    render: Exporter


def _exporter(module: str) -> Exporter:
    """`export_<module>` of exports/<module>.py, imported when it is first called."""

    def render(run: "LoadedRun") -> "ExportFiles":
        exporter: Exporter = getattr(importlib.import_module(f"{__package__}.{module}"), f"export_{module}")
        return exporter(run)

    return render


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("deepeval", "DeepEval goldens (EvaluationDataset JSON)", _exporter("deepeval")),
        ExportFormat("evidently", "Evidently table (CSV) + DataDefinition", _exporter("evidently")),
        ExportFormat("giskard", "Giskard RAGET QATestset JSONL", _exporter("giskard")),
        ExportFormat("pydantic-evals", "pydantic-evals Dataset JSON + JSON Schema", _exporter("pydantic_evals")),
        ExportFormat("chat-jsonl", "OpenAI-style chat JSONL + line-aligned metadata", _exporter("chat_jsonl")),
        ExportFormat("hf", "Hugging Face datasets JSONL + dataset card", _exporter("hf")),
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
