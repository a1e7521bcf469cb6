"""Exports of a finished run into the formats eval tools load: DeepEval, Evidently, Giskard,
pydantic-evals, OpenAI-style chat JSONL and Hugging Face datasets.

None of those libraries is imported here: each exporter writes the tool's documented file
shape with orjson/csv, so synthgen does not depend on them.
"""

from synthgen.orchestrator.exports.files import ExportFiles, ExportTarget, write_exports
from synthgen.orchestrator.exports.loaded import LoadedRun, load_run
from synthgen.orchestrator.exports.registry import ALL, FORMATS, ExportFormat, resolve_formats

__all__ = [
    "ALL",
    "FORMATS",
    "ExportFiles",
    "ExportFormat",
    "ExportTarget",
    "LoadedRun",
    "load_run",
    "resolve_formats",
    "write_exports",
]
