"""`synthgen validate`: re-check a finished run from its files alone."""

import hashlib
from pathlib import Path

import orjson
from pydantic import TypeAdapter

from synthgen.errors import InputError, SynthgenError
from synthgen.orchestrator.documents import load_document
from synthgen.schemas.items import DatasetExample, Policy, TestCase, UseCase
from synthgen.schemas.manifest import RunManifest
from synthgen.tools.gates import ItemIndex, run_problems
from synthgen.tools.schema_validator import validate_json_file

OUTPUT_FILES = {
    "use_cases.json": "use_cases",
    "policies.json": "policies",
    "test_cases.json": "test_cases",
    "dataset.jsonl": "dataset",
    "manifest.json": "manifest",
}


def validate_run(run_dir: Path) -> list[str]:
    """Every problem found in the run directory; empty when the run is valid."""
    if not run_dir.is_dir():
        raise InputError(f"{run_dir} is not a run directory: give the folder a run wrote, e.g. runs/<run_id>")
    missing = [name for name in OUTPUT_FILES if not (run_dir / name).is_file()]
    if missing:
        return [f"{name}: missing" for name in missing]
    contents = {name: (run_dir / name).read_bytes() for name in OUTPUT_FILES}
    problems = [p for name, kind in OUTPUT_FILES.items() for p in validate_json_file(kind, contents[name])]
    if problems:
        return problems

    manifest = RunManifest.model_validate_json(contents["manifest.json"])
    for output in manifest.outputs:
        data = contents.get(output.name)
        if data is not None and hashlib.sha256(data).hexdigest() != output.sha256:
            problems.append(f"{output.name}: sha256 differs from the manifest (edited after the run?)")
    documents = {}
    for source in manifest.inputs:
        try:
            doc = load_document(Path(source.path))
        except SynthgenError as err:
            problems.append(f"source document {source.path}: {err} (run validate from where the run was made)")
            continue
        if doc.sha256 != source.sha256:
            problems.append(f"source document {source.path}: content changed since the run (sha256 differs)")
            continue
        documents[doc.id] = doc
    if problems:
        return problems

    index = ItemIndex(
        documents=documents,
        use_cases={u.id: u for u in TypeAdapter(list[UseCase]).validate_json(contents["use_cases.json"])},
        policies={p.id: p for p in TypeAdapter(list[Policy]).validate_json(contents["policies.json"])},
        test_cases={t.id: t for t in TypeAdapter(list[TestCase]).validate_json(contents["test_cases.json"])},
    )
    examples = [DatasetExample.model_validate(orjson.loads(line))
                for line in contents["dataset.jsonl"].splitlines() if line.strip()]
    return run_problems(index, examples)
