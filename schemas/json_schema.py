"""The output files of a run, their models, and the JSON Schema checked in for each.

Regenerate the checked-in schemas after changing a model:

    python -m synthgen.schemas.json_schema

`--check` exits 1 instead of writing when a checked-in file differs from the models.
"""

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import TypeAdapter

from synthgen.schemas.calls import CallRecord
from synthgen.schemas.candidates import CandidateDecisionRecord
from synthgen.schemas.items import DatasetExample, Policy, TestCase, UseCase
from synthgen.schemas.layout import (
    BINDING_FILE,
    CALLS_FILE,
    DATASET_FILE,
    DECISIONS_FILE,
    MANIFEST_FILE,
    POLICIES_FILE,
    TEST_CASES_FILE,
    USE_CASES_FILE,
)
from synthgen.schemas.manifest import RunBinding, RunManifest

OutputKind = Literal["use_cases", "policies", "decisions", "test_cases", "dataset", "manifest", "run", "calls"]

SCHEMA_DIR = Path(__file__).parent / "json"
REGENERATE_COMMAND = "python -m synthgen.schemas.json_schema"
_JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


@dataclass(frozen=True)
class OutputContract:
    """One file of the run directory and the type its content must validate as."""

    kind: OutputKind
    file_name: str
    schema_file: str
    description: str
    adapter: TypeAdapter[Any] = field(repr=False, compare=False)
    jsonl: bool = False  # one record per line; `adapter` validates a single line

    @property
    def schema_path(self) -> Path:
        return SCHEMA_DIR / self.schema_file


OUTPUT_CONTRACTS: tuple[OutputContract, ...] = (
    OutputContract(
        "use_cases",
        USE_CASES_FILE,
        "use_cases.schema.json",
        "use_cases.json: the use cases extracted from the input documents, each with line-cited evidence.",
        TypeAdapter(list[UseCase]),
    ),
    OutputContract(
        "policies",
        POLICIES_FILE,
        "policies.schema.json",
        "policies.json: the rules extracted from the input documents, each with line-cited evidence.",
        TypeAdapter(list[Policy]),
    ),
    OutputContract(
        "decisions",
        DECISIONS_FILE,
        "decisions.schema.json",
        "decisions.json: every candidate statement of the input documents and what became of it: the rule "
        "decisions with the policies they made, and the not-a-rule decisions with their reasons, for audit.",
        TypeAdapter(list[CandidateDecisionRecord]),
    ),
    OutputContract(
        "test_cases",
        TEST_CASES_FILE,
        "test_cases.schema.json",
        "test_cases.json: one test case per covering-array row.",
        TypeAdapter(list[TestCase]),
    ),
    OutputContract(
        "dataset",
        DATASET_FILE,
        "dataset_example.schema.json",
        "One line of dataset.jsonl: a conversation, the expected reply and its evaluation criteria.",
        TypeAdapter(DatasetExample),
        jsonl=True,
    ),
    OutputContract(
        "manifest",
        MANIFEST_FILE,
        "manifest.schema.json",
        "manifest.json: what went into a run, what came out, and what happened in between.",
        TypeAdapter(RunManifest),
    ),
    OutputContract(
        "run",
        BINDING_FILE,
        "run.schema.json",
        "run.json: the inputs and settings a run directory is bound to.",
        TypeAdapter(RunBinding),
    ),
    OutputContract(
        "calls",
        CALLS_FILE,
        "call_record.schema.json",
        "One line of calls.jsonl: a recorded model exchange, keyed by the hash of its request.",
        TypeAdapter(CallRecord),
        jsonl=True,
    ),
)


def contract(kind: OutputKind) -> OutputContract:
    for candidate in OUTPUT_CONTRACTS:
        if candidate.kind == kind:
            return candidate
    raise ValueError(f"unknown output kind {kind!r}: use one of {', '.join(c.kind for c in OUTPUT_CONTRACTS)}")


def render_schema(output: OutputContract) -> str:
    """The schema file's exact text: sorted keys and a trailing newline, so diffs stay small.

    Validation mode, so the schema accepts exactly what `tools.schema_validator` accepts.
    """
    schema = output.adapter.json_schema(mode="validation")
    schema = {"$schema": _JSON_SCHEMA_DIALECT, "title": output.file_name, **schema, "description": output.description}
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def stale_schemas(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names of schema files in `directory` that are missing or differ from the models."""
    return [
        output.schema_file
        for output in OUTPUT_CONTRACTS
        if not (path := directory / output.schema_file).is_file() or path.read_text("utf-8") != render_schema(output)
    ]


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for output in OUTPUT_CONTRACTS:
        path = directory / output.schema_file
        path.write_text(render_schema(output), encoding="utf-8", newline="\n")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args == ["--check"]:
        stale = stale_schemas()
        for name in stale:
            print(f"{SCHEMA_DIR / name} is out of date: run `{REGENERATE_COMMAND}`", file=sys.stderr)
        return 1 if stale else 0
    if args:
        print(f"usage: {REGENERATE_COMMAND} [--check]", file=sys.stderr)
        return 2
    for path in write_schemas():
        print(path, file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
