"""Evidently: a CSV table plus the `DataDefinition` that gives each column its role (evidently 0.7).

`dataset.json` has the layout of the metadata inside Evidently's own saved datasets
(`data_definition`, `metadata`, `tags`), so `DataDefinition.parse_obj(meta["data_definition"])`
and `Dataset.from_pandas(df, data_definition=..., metadata=..., tags=...)` load it as is.
Nested values (criteria with their evidence, earlier turns, policy IDs) are JSON strings in
columns declared unknown, so Evidently keeps them without computing text statistics on them.
"""

import csv
import io
from typing import Any

import orjson

from synthgen.orchestrator.exports.encode import json_document
from synthgen.orchestrator.exports.files import ExportFiles
from synthgen.orchestrator.exports.loaded import LoadedRun
from synthgen.orchestrator.exports.view import ExampleView, example_views

TABLE_FILE = "dataset.csv"
DEFINITION_FILE = "dataset.json"

ID_COLUMN = "id"
TEXT_COLUMNS = ["input", "expected_output", "system_prompt", "context", "criteria"]
CATEGORICAL_COLUMNS = ["test_case_id", "use_case_id", "document_id", "document_sha256"]
JSON_COLUMNS = ["policy_ids", "history", "evaluation_criteria"]
AXIS_PREFIX = "axis."


def export_evidently(run: LoadedRun) -> ExportFiles:
    views = list(example_views(run))
    axes = sorted({name for v in views for name in v.example.metadata.axis_values})
    axis_columns = [AXIS_PREFIX + name for name in axes]
    columns = [ID_COLUMN, *TEXT_COLUMNS, *CATEGORICAL_COLUMNS, *axis_columns, *JSON_COLUMNS]
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(_row(v) for v in views)
    definition = {
        "id_column": ID_COLUMN,
        "text_columns": TEXT_COLUMNS,
        "categorical_columns": [*CATEGORICAL_COLUMNS, *axis_columns],
        # Empty lists, not omitted: Evidently would otherwise guess the roles from the values.
        "numerical_columns": [],
        "datetime_columns": [],
        "list_columns": [],
        "unknown_columns": JSON_COLUMNS,
    }
    return {
        TABLE_FILE: table.getvalue().encode(),
        DEFINITION_FILE: json_document(
            {"data_definition": definition, "metadata": _metadata(run), "tags": ["synthgen"]}
        ),
    }


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _row(view: ExampleView) -> dict[str, str]:
    lineage = view.lineage()
    return {
        ID_COLUMN: view.example.id,
        "input": view.question,
        "expected_output": view.example.expected_output,
        "system_prompt": view.system_prompt or "",
        "context": "\n\n".join(view.quotes),
        "criteria": "\n".join(view.criteria),
        "test_case_id": lineage.test_case_id,
        "use_case_id": lineage.use_case_id,
        "document_id": lineage.document_id,
        "document_sha256": lineage.document_sha256,
        **{AXIS_PREFIX + name: value for name, value in lineage.axis_values.items()},
        "policy_ids": _json(lineage.policy_ids),
        "history": _json([m.model_dump(mode="json") for m in view.history]),
        "evaluation_criteria": _json([c.model_dump(mode="json") for c in lineage.evaluation_criteria]),
    }


def _metadata(run: LoadedRun) -> dict[str, str | dict[str, str]]:
    # Evidently metadata values may only be strings, lists of strings or str -> str maps.
    return {
        "run_id": run.manifest.run_id,
        "model": run.manifest.config.model,
        "seed": str(run.manifest.config.seed),
        "source_documents": {doc.path: doc.sha256 for doc in run.manifest.inputs},
    }
