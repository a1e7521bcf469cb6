"""`synthgen validate`: re-check a finished run from its files alone."""

import hashlib
from pathlib import Path

from synthgen.errors import SynthgenError
from synthgen.orchestrator.rundir.documents import load_document
from synthgen.orchestrator.rundir.read import RunFiles, read_run_files
from synthgen.schemas.document import SourceDocument
from synthgen.tools.evidence import check_evidence
from synthgen.tools.gates import ItemIndex, run_problems


def source_documents(files: RunFiles) -> tuple[dict[str, SourceDocument], list[str]]:
    """The run's input documents, read again from their recorded paths and checked against their hashes."""
    documents, problems = {}, []
    for source in files.manifest.inputs:
        try:
            doc = load_document(Path(source.path))
        except SynthgenError as err:
            problems.append(f"source document {source.path}: {err} (run this from where the run was made)")
            continue
        if doc.sha256 != source.sha256:
            problems.append(f"source document {source.path}: content changed since the run (sha256 differs)")
            continue
        documents[doc.id] = doc
    return documents, problems


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
    """Every problem of a run whose files parsed: hashes, source documents, evidence, IDs, lineage."""
    problems: list[str] = []
    for output in files.manifest.outputs:
        data = files.contents.get(output.name)
        if data is not None and hashlib.sha256(data).hexdigest() != output.sha256:
            problems.append(f"{output.name}: sha256 differs from the manifest (edited after the run?)")
    documents, missing = source_documents(files)
    problems += missing
    if problems:
        return problems
    return run_problems(item_index(files, documents), files.examples) + decision_problems(files, documents)


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
