"""A finished run, read once and checked before any export is made from it."""

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from synthgen.errors import InputError
from synthgen.orchestrator.rundir.read import read_run_files
from synthgen.orchestrator.rundir.validate import run_files_problems
from synthgen.schemas.candidates import CandidateDecisionRecord
from synthgen.schemas.items import DatasetExample, Policy, TestCase, UseCase
from synthgen.schemas.manifest import InputDocument, RunManifest


@dataclass(frozen=True)
class LoadedRun:
    """The files of a run that passed `synthgen validate`, as typed records."""

    run_dir: Path
    manifest: RunManifest
    use_cases: list[UseCase]
    policies: list[Policy]
    decisions: list[CandidateDecisionRecord]
    test_cases: list[TestCase]
    examples: list[DatasetExample]

    @cached_property
    def use_case_by_id(self) -> dict[str, UseCase]:
        return {u.id: u for u in self.use_cases}

    @cached_property
    def policy_by_id(self) -> dict[str, Policy]:
        return {p.id: p for p in self.policies}

    @cached_property
    def test_case_by_id(self) -> dict[str, TestCase]:
        return {t.id: t for t in self.test_cases}

    @cached_property
    def document_by_id(self) -> dict[str, InputDocument]:
        return {d.id: d for d in self.manifest.inputs}


def load_run(run_dir: Path) -> LoadedRun:
    """Read a run directory; refuse one that is missing, incomplete or does not validate."""
    if not run_dir.exists():
        raise InputError(f"{run_dir} does not exist: give the folder a run wrote, e.g. runs/<run_id>")
    files, problems = read_run_files(run_dir)  # raises InputError for a path that is not a directory
    if files is not None:
        problems = run_files_problems(files)
    if problems or files is None:
        more = (
            f" (and {len(problems) - 1} more: run `synthgen validate {run_dir}` to list them)"
            if len(problems) > 1
            else ""
        )
        raise InputError(f"{run_dir} does not pass `synthgen validate`: {problems[0]}{more}")
    return LoadedRun(
        run_dir=run_dir,
        manifest=files.manifest,
        use_cases=files.use_cases,
        policies=files.policies,
        decisions=files.decisions,
        test_cases=files.test_cases,
        examples=files.examples,
    )
