"""Exports of a finished run into the formats eval tools load: DeepEval, Evidently, Giskard,
pydantic-evals, OpenAI-style chat JSONL and Hugging Face datasets.

None of those libraries is imported here: each exporter writes the tool's documented file
shape with orjson/csv, so synthgen does not depend on them.

Submodules are imported by name (`exports.registry`, `exports.loaded`, ...): this package imports
nothing itself, so the CLI can list the formats without loading a run's models.
"""
