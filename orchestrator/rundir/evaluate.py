"""`synthgen eval`: score any finished run on the bars a trustworthy dataset must clear."""

from pathlib import Path

import orjson
from pydantic import computed_field

from synthgen.orchestrator.rundir.read import read_run_files
from synthgen.orchestrator.rundir.validate import item_index, source_documents
from synthgen.schemas.base import StrictModel
from synthgen.tools.metrics import DatasetScores, score_dataset


class EvalReport(StrictModel, frozen=True):
    run_dir: Path
    problems: list[str]  # why the run could not be scored at all (schema, missing source)
    scores: DatasetScores | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> bool:
        """The hard bars: every file valid, every quote verified, every reference resolved."""
        return self.scores is not None and self.scores.evidence_validity == 1.0 and self.scores.lineage_resolves


def evaluate_run(run_dir: Path) -> EvalReport:
    files, problems = read_run_files(run_dir)
    if files is None:
        return EvalReport(run_dir=run_dir, problems=problems, scores=None)
    documents, problems = source_documents(files)
    if problems:
        return EvalReport(run_dir=run_dir, problems=problems, scores=None)
    return EvalReport(run_dir=run_dir, problems=[], scores=score_dataset(item_index(files, documents), files.examples))


def eval_json(report: EvalReport) -> str:
    """The report as one flat JSON object: run_dir, passed, problems, then every score (none when unscored)."""
    payload = report.model_dump(mode="json", exclude={"scores"})
    if report.scores is not None:
        payload |= report.scores.model_dump(mode="json")
    return orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode()


def _percent(value: float) -> str:
    return f"{value * 100:5.1f} %"


def render_eval(report: EvalReport) -> str:
    if report.scores is None:
        return "\n".join([f"{report.run_dir}: cannot be scored", *(f"  {p}" for p in report.problems)])
    s = report.scores
    rows = [
        ("schema valid", "yes", ""),
        (
            "evidence validity",
            _percent(s.evidence_validity),
            f"{s.evidence_checked - s.evidence_invalid} of {s.evidence_checked} quotes verified",
        ),
        ("IDs and lineage", "resolve" if s.lineage_resolves else "BROKEN", f"{s.lineage_problems} problem(s)"),
        ("duplicate rate", _percent(s.duplicate_rate), f"{s.duplicates} of {s.examples} examples"),
        ("policy coverage", _percent(s.policy_coverage), f"{s.policies_covered} of {s.policies} policies cited"),
        (
            "criteria grounding",
            _percent(s.criteria_grounding),
            f"{s.criteria_grounded} of {s.criteria} criteria cite their test case's policies",
        ),
        (
            "criteria on topic",
            _percent(s.criteria_relevance),
            f"{s.criteria_on_topic} of {s.criteria} criteria share a word with the policy they cite",
        ),
    ]
    lines = [f"{report.run_dir}: {'passes' if report.passed else 'FAILS'}"]
    lines += [f"  {name:<20}{value:>9}   {detail}".rstrip() for name, value, detail in rows]
    return "\n".join(lines)
