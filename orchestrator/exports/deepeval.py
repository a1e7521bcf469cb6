"""DeepEval goldens, in the JSON shape `EvaluationDataset.add_goldens_from_json_file` reads (deepeval 4.3).

A DeepEval dataset is either all single-turn `Golden`s or all `ConversationalGolden`s, so
examples with earlier turns go to a second file that loads into its own dataset. The evaluation
criteria become the golden's `expectations.must`, which DeepEval checks with its built-in judge.
"""

from typing import Any

from synthgen.orchestrator.exports.encode import json_document
from synthgen.orchestrator.exports.files import ExportFiles
from synthgen.orchestrator.exports.loaded import LoadedRun
from synthgen.orchestrator.exports.view import ExampleView, example_views

SINGLE_TURN_FILE = "goldens.json"
MULTI_TURN_FILE = "conversational_goldens.json"


def export_deepeval(run: LoadedRun) -> ExportFiles:
    views = list(example_views(run))
    return {
        SINGLE_TURN_FILE: json_document([_golden(v) for v in views if not v.is_multi_turn]),
        MULTI_TURN_FILE: json_document([_conversational_golden(v) for v in views if v.is_multi_turn]),
    }


def _metadata(view: ExampleView) -> dict[str, Any]:
    return {**view.lineage().model_dump(mode="json"), "system_prompt": view.system_prompt}


def _golden(view: ExampleView) -> dict[str, Any]:
    return {
        "name": view.example.id,
        "input": view.question,
        "expected_output": view.example.expected_output,
        "context": view.quotes,
        "expectations": {"must": view.criteria},
        "additional_metadata": _metadata(view),
    }


def _conversational_golden(view: ExampleView) -> dict[str, Any]:
    return {
        "name": view.example.id,
        # DeepEval tells the two kinds apart by a non-empty `scenario`.
        "scenario": view.test_case.scenario or view.use_case.goal,
        "turns": [m.model_dump(mode="json") for m in view.dialogue],
        "expected_outcome": view.example.expected_output,
        "context": view.quotes,
        "expectations": {"must": view.criteria},
        "additional_metadata": _metadata(view),
    }
