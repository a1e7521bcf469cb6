"""`synthgen validate`: re-check a finished run from its files alone."""

import hashlib
from pathlib import Path

from synthgen.errors import SynthgenError
from synthgen.orchestrator.rundir.documents import load_document
from synthgen.orchestrator.rundir.read import RunFiles, read_run_files
from synthgen.schemas.document import SourceDocument
from synthgen.schemas.manifest import InputDocument
from synthgen.schemas.stages import ItemIndex
from synthgen.tools.evidence import check_evidence
from synthgen.tools.gates import run_problems


def source_documents(files: RunFiles) -> tuple[dict[str, SourceDocument], list[str]]:
    """The run's input documents, read again and checked against their hashes.

    Each is looked for where it was given (relative to the working directory), at its recorded
    absolute path, then relative to the run directory (in it, or beside it), so a run checks from any
    directory and a run moved together with its documents still finds them.
    """
    documents, problems = {}, []
    for source in files.manifest.inputs:
        found = _find_document(source, files.run_dir)
        if isinstance(found, str):
            problems.append(found)
        else:
            documents[found.id] = found
    return documents, problems


def _document_places(source: InputDocument, run_dir: Path) -> list[Path]:
    given = Path(source.path)
    places = [given, *([Path(source.absolute_path)] if source.absolute_path else [])]
    if not given.is_absolute():
        places.append(run_dir / given)
    places += [run_dir / given.name, run_dir.parent / given.name]
    return list(dict.fromkeys(places))


def _find_document(source: InputDocument, run_dir: Path) -> SourceDocument | str:
    """The document with the recorded content, or the one-line problem of not finding it."""
    changed = None
    for place in _document_places(source, run_dir):
        if not place.is_file():
            continue
        try:
            doc = load_document(place)
        except SynthgenError as err:
            return f"source document {source.path}: {err}"
        if doc.sha256 == source.sha256:
            return doc.model_copy(update={"path": source.path})
        changed = changed or place
    if changed is not None:
        return f"source document {source.path}: content changed since the run (sha256 differs, at {changed})"
    return (
        f"source document {source.path}: not found (looked for it as given, at its absolute path and in the run "
        f"directory): put the document with sha256 {source.sha256} back, or validate from where the run was made"
    )


def item_index(files: RunFiles, documents: dict[str, SourceDocument]) -> ItemIndex:
    return ItemIndex(
        documents=documents,
        use_cases={u.id: u for u in files.use_cases},
        policies={p.id: p for p in files.policies},
        test_cases={t.id: t for t in files.test_cases},
    )


def validate_run(run_dir: Path) -> list[str]:
    """Every problem found in the run directory; empty when the run is valid."""
    files, problems = read_run_files(run_dir)
    return problems if files is None else run_files_problems(files)


def run_files_problems(files: RunFiles) -> list[str]:
    """Every problem of a run whose files parsed: hashes, the manifest against the files, source documents,
    evidence, IDs and lineage. One problem does not hide the next: all of them are listed."""
    problems: list[str] = []
    for output in files.manifest.outputs:
        data = files.contents.get(output.name)
        if data is not None and hashlib.sha256(data).hexdigest() != output.sha256:
            problems.append(f"{output.name}: sha256 differs from the manifest (edited after the run?)")
    problems += manifest_problems(files)
    documents, missing = source_documents(files)
    problems += missing
    if missing:  # evidence cannot be checked without its documents
        return problems
    return problems + run_problems(item_index(files, documents), files.examples) + decision_problems(files, documents)


def manifest_problems(files: RunFiles) -> list[str]:
    """Where manifest.json disagrees with the files it describes: outputs, record counts, stage counts, lineage."""
    manifest, problems = files.manifest, []
    counts = {
        "use_cases.json": len(files.use_cases),
        "policies.json": len(files.policies),
        "test_cases.json": len(files.test_cases),
        "dataset.jsonl": len(files.examples),
    }
    listed = {output.name: output for output in manifest.outputs}
    for name, records in counts.items():
        if name not in listed:
            problems.append(f"manifest.json: outputs has no entry for {name}")
        elif listed[name].records != records:
            problems.append(
                f"manifest.json: outputs says {name} holds {listed[name].records} record(s), it holds {records}"
            )
    for stage, report in manifest.stages.items():
        if report.requested != report.accepted + report.rejected:
            problems.append(
                f"manifest.json: stage {stage} requested {report.requested} item(s), but accepted {report.accepted} "
                f"+ rejected {report.rejected} = {report.accepted + report.rejected}"
            )
        if sum(report.reasons.values()) != report.rejected:
            problems.append(
                f"manifest.json: stage {stage} rejected {report.rejected} item(s), its reasons count "
                f"{sum(report.reasons.values())}"
            )
    return problems + lineage_problems(files)


def lineage_problems(files: RunFiles) -> list[str]:
    """Each example has exactly one lineage entry, and each entry says what its example and test case say."""
    problems: list[str] = []
    examples = {example.id: example for example in files.examples}
    test_cases = {test_case.id: test_case for test_case in files.test_cases}
    seen: set[str] = set()
    for entry in files.manifest.lineage:
        where = f"manifest.json: lineage of {entry.example_id}"
        if entry.example_id in seen:
            problems.append(f"{where}: listed twice")
        seen.add(entry.example_id)
        example, test_case = examples.get(entry.example_id), test_cases.get(entry.test_case_id)
        if example is None:
            problems.append(f"{where}: no such example in dataset.jsonl")
        elif example.test_case_id != entry.test_case_id:
            problems.append(f"{where}: names test case {entry.test_case_id}, the example {example.test_case_id}")
        if test_case is None:
            problems.append(f"{where}: no such test case {entry.test_case_id} in test_cases.json")
        elif (entry.use_case_id, entry.document_id, entry.policy_ids) != (
            test_case.use_case_id,
            test_case.document_id,
            test_case.policy_ids,
        ):
            problems.append(f"{where}: its use case, document or policies differ from test case {test_case.id}")
    problems += [f"manifest.json: lineage has no entry for {ex_id}" for ex_id in examples if ex_id not in seen]
    return problems


def decision_problems(files: RunFiles, documents: dict[str, SourceDocument]) -> list[str]:
    """decisions.json: every candidate's quote verified at its lines, every policy it names in policies.json."""
    problems = []
    policy_ids = {p.id for p in files.policies}
    for number, record in enumerate(files.decisions):
        where = f"decisions.json[{number}] ({record.candidate.id})"
        doc = documents.get(record.document_id)
        if doc is None:
            problems.append(f"{where}: document {record.document_id} is not an input of the run")
            continue
        check = check_evidence(doc, record.candidate.evidence)
        if not check.ok:
            problems.append(f"{where}: {check.message}")
        problems += [
            f"{where}: policy {pid} is not in policies.json" for pid in record.policy_ids if pid not in policy_ids
        ]
    return problems
