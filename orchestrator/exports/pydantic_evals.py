"""pydantic-evals: a `Dataset` JSON file and its JSON Schema, as `Dataset.to_file` writes them (2.62).

Each case's inputs are the conversation (system prompt included), the expected output is the
reply, and the metadata is the example's lineage with its evaluation criteria and evidence.
The schema comes from the models below, so `Dataset[CaseInputs, str, ExampleLineage]` can load
the file fully typed; `Dataset[dict, str, dict]` loads it without importing synthgen.
"""

from pydantic import BaseModel, ConfigDict, Field

from synthgen.orchestrator.exports.encode import json_document
from synthgen.orchestrator.exports.files import ExportFiles
from synthgen.orchestrator.exports.loaded import LoadedRun
from synthgen.orchestrator.exports.view import ExampleLineage, ExampleView, example_views
from synthgen.schemas.items import Message

DATASET_FILE = "dataset.json"
SCHEMA_FILE = "dataset_schema.json"


class CaseInputs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    messages: list[Message]


class _Case(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    inputs: CaseInputs
    metadata: ExampleLineage
    expected_output: str


class _DatasetFile(BaseModel):
    """The layout of pydantic-evals' serialized dataset, without evaluators (none are chosen for the user)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_path: str = Field(alias="$schema")
    name: str
    cases: list[_Case]


def export_pydantic_evals(run: LoadedRun) -> ExportFiles:
    dataset = _DatasetFile(
        schema_path=SCHEMA_FILE, name=run.manifest.run_id, cases=[_case(v) for v in example_views(run)]
    )
    schema = _DatasetFile.model_json_schema(by_alias=True)
    return {
        DATASET_FILE: json_document(dataset.model_dump(mode="json", by_alias=True)),
        SCHEMA_FILE: json_document(schema),
    }


def _case(view: ExampleView) -> _Case:
    return _Case(
        name=view.example.id,
        inputs=CaseInputs(messages=list(view.example.messages)),
        metadata=view.lineage(),
        expected_output=view.example.expected_output,
    )
