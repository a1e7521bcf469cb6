"""Reading a finished run directory back into its typed contracts."""

from dataclasses import dataclass
from pathlib import Path

import orjson
from pydantic import TypeAdapter

from synthgen.errors import InputError
from synthgen.schemas.candidates import CandidateDecisionRecord
from synthgen.schemas.items import DatasetExample, Policy, TestCase, UseCase
from synthgen.schemas.layout import (
    DATASET_FILE,
    DECISIONS_FILE,
    MANIFEST_FILE,
    POLICIES_FILE,
    TEST_CASES_FILE,
    USE_CASES_FILE,
)
from synthgen.schemas.manifest import RunManifest
from synthgen.tools.schema_validator import validate_json_file

OUTPUT_FILES = {
    USE_CASES_FILE: "use_cases",
    POLICIES_FILE: "policies",
    DECISIONS_FILE: "decisions",
    TEST_CASES_FILE: "test_cases",
    DATASET_FILE: "dataset",
    MANIFEST_FILE: "manifest",
}


@dataclass(frozen=True)
class RunFiles:
    run_dir: Path
    contents: dict[str, bytes]  # file name -> bytes as stored, for hashing
    manifest: RunManifest
    use_cases: list[UseCase]
    policies: list[Policy]
    decisions: list[CandidateDecisionRecord]
    test_cases: list[TestCase]
    examples: list[DatasetExample]


def read_run_files(run_dir: Path) -> tuple[RunFiles | None, list[str]]:
    """The run's files parsed, or None and every problem that stops them from parsing."""
    if not run_dir.is_dir():
        raise InputError(f"{run_dir} is not a run directory: give the folder a run wrote, e.g. runs/<run_id>")
    missing = [name for name in OUTPUT_FILES if not (run_dir / name).is_file()]
    if missing:
        return None, [f"{name}: missing (the run did not finish?)" for name in missing]
    contents = {name: (run_dir / name).read_bytes() for name in OUTPUT_FILES}
    problems = [p for name, kind in OUTPUT_FILES.items() for p in validate_json_file(kind, contents[name])]
    if problems:
        return None, problems
    files = RunFiles(
        run_dir=run_dir,
        contents=contents,
        manifest=RunManifest.model_validate_json(contents[MANIFEST_FILE]),
        use_cases=TypeAdapter(list[UseCase]).validate_json(contents[USE_CASES_FILE]),
        policies=TypeAdapter(list[Policy]).validate_json(contents[POLICIES_FILE]),
        decisions=TypeAdapter(list[CandidateDecisionRecord]).validate_json(contents[DECISIONS_FILE]),
        test_cases=TypeAdapter(list[TestCase]).validate_json(contents[TEST_CASES_FILE]),
        examples=[
            DatasetExample.model_validate(orjson.loads(line))
            for line in contents[DATASET_FILE].splitlines()
            if line.strip()
        ],
    )
    return files, []
