"""`synthgen eval`: score any finished run on the bars a trustworthy dataset must clear."""

from dataclasses import dataclass
from pathlib import Path, PurePath

import orjson
from pydantic import Field, computed_field

from synthgen.agents.prompts import load_prompt
from synthgen.errors import InputError
from synthgen.orchestrator.rundir.read import read_run_files
from synthgen.orchestrator.rundir.validate import item_index, source_documents
from synthgen.schemas.base import StrictModel
from synthgen.schemas.document import SourceDocument
from synthgen.schemas.manifest import RuleCoverage
from synthgen.tools.metrics import DatasetScores, score_dataset
from synthgen.tools.recall import GoldRule, RecallReport, gold_misfit, measure_recall, parse_gold


@dataclass(frozen=True)
class GoldList:
    label: str  # the path as given, for messages and reports
    rules: list[GoldRule]


def read_gold(path: Path) -> GoldList:
    """A gold rule list read from disk; InputError in one line when it is missing or malformed."""
    if not path.is_file():
        raise InputError(f"gold list {path} does not exist: give a JSON rule list such as ../shared/gold/*.json")
    return GoldList(str(path), parse_gold(str(path), path.read_bytes()))


def gold_document(gold: GoldList, documents: list[SourceDocument]) -> SourceDocument:
    """The run's document the gold list was written for; InputError when it fits none of them."""
    misfits = []
    for doc in documents:
        misfit = gold_misfit(doc, gold.rules, gold.label)
        if misfit is None:
            return doc
        misfits.append(misfit)
    if len(misfits) == 1:
        raise InputError(misfits[0])
    names = ", ".join(doc.file_name for doc in documents)
    raise InputError(f"{gold.label} fits none of the run's documents ({names}): give the gold list of one of them")


class EvalReport(StrictModel, frozen=True):
    run_dir: Path
    problems: list[str]  # why the run could not be scored at all (schema, missing source)
    scores: DatasetScores | None
    recall: RecallReport | None = None  # against a gold list, when one was given
    rule_coverage: list[RuleCoverage] = Field(
        default_factory=list
    )  # from the manifest: each rule's written examples, or why none

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> bool:
        """The hard bars: every file valid, every quote verified, every reference resolved."""
        return self.scores is not None and self.scores.evidence_validity == 1.0 and self.scores.lineage_resolves


def evaluate_run(run_dir: Path, gold: GoldList | None = None) -> EvalReport:
    """Score the run; with a gold list, also the recall of its policies on the document the list is for."""
    files, problems = read_run_files(run_dir)
    if files is None:
        return EvalReport(run_dir=run_dir, problems=problems, scores=None)
    documents, problems = source_documents(files)
    if problems:
        return EvalReport(run_dir=run_dir, problems=problems, scores=None)
    recall = None
    if gold is not None:
        doc = gold_document(gold, list(documents.values()))
        recall = measure_recall(doc, gold.rules, files.policies, gold.label)
    scores = score_dataset(item_index(files, documents), files.examples, load_prompt("example_writer").text)
    return EvalReport(
        run_dir=run_dir, problems=[], scores=scores, recall=recall, rule_coverage=files.manifest.rule_coverage
    )


def eval_json(report: EvalReport) -> str:
    """The report as one flat JSON object: run_dir, passed, problems, every score (none when unscored), recall."""
    payload = report.model_dump(mode="json", exclude={"scores", "recall"})
    if report.scores is not None:
        payload |= report.scores.model_dump(mode="json")
    if report.recall is not None:
        payload["recall"] = report.recall.model_dump(mode="json")
    payload["rule_coverage"] = [rule.model_dump(mode="json") for rule in report.rule_coverage]
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
        ("copy rate", _percent(s.copy_rate), f"{s.copied} of {s.examples} examples copy the writer's instructions"),
        (
            "substance",
            "clean" if not (s.echoed or s.outcome_contradicted or s.conflicting_labels) else "FLAWED",
            (
                f"{s.echoed} echoed, {s.outcome_contradicted} contradict their outcome, "
                f"{s.conflicting_labels} conflicting labels"
            ),
        ),
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
    lines = [f"{report.run_dir}: {'passes' if report.passed else 'FAILS'}", *_score_lines(rows)]
    if report.rule_coverage:
        lines += render_rule_coverage(report.rule_coverage)
    if report.recall is not None:
        lines += render_recall(report.recall)
    return "\n".join(lines)


_OUTCOME_HEADS = {"comply": "comply", "refuse": "refuse", "ask_for_information": "ask", "escalate": "escalate",
                  "partially_comply": "partial"}  # fmt: skip


def render_rule_coverage(rules: list[RuleCoverage]) -> list[str]:
    """The rule x outcome matrix: each rule's written examples by expected outcome, its contrast pair, or why none."""
    covered = sum(1 for rule in rules if rule.examples)
    paired = sum(1 for rule in rules if rule.contrast_pair)
    lines = [f"rule coverage: {covered} of {len(rules)} rules decide a written example; {paired} have a contrast pair"]
    lines.append(f"  {'rule':<16}" + "".join(f"{head:>9}" for head in _OUTCOME_HEADS.values()) + "  pair  uncovered")
    for rule in rules:
        cells = "".join(f"{('x' if outcome in rule.outcomes else '.'):>9}" for outcome in _OUTCOME_HEADS)
        pair = "yes" if rule.contrast_pair else "-"
        lines.append(f"  {rule.policy_id:<16}{cells}  {pair:<4}  {rule.uncovered or ''}".rstrip())
    return lines


def _score_lines(rows: list[tuple[str, str, str]]) -> list[str]:
    """One aligned line per (name, value, detail)."""
    return [f"  {name:<20}{value:>9}   {detail}".rstrip() for name, value, detail in rows]


def render_recall(recall: RecallReport) -> list[str]:
    rows = [
        (
            "loose recall",
            _percent(recall.loose_recall),
            f"{recall.loose_found} of {recall.rules} rules overlapped by a policy's evidence",
        ),
        (
            "strict recall",
            _percent(recall.strict_recall),
            f"{recall.strict_found} of {recall.rules} rules stated by a policy that overlaps them",
        ),
        (
            "precision",
            _percent(recall.precision),
            f"{recall.policies_stating_a_rule} of {recall.policies} policies state a gold rule",
        ),
    ]
    lines = [f"recall against {recall.gold} ({recall.rules} rules of {PurePath(recall.document).name})"]
    lines += _score_lines(rows)
    lines.append(f"  {'kind':<14}{'rules':>6}{'loose':>7}{'strict':>8}")
    lines += [f"  {k.kind:<14}{k.rules:>6}{k.loose:>7}{k.strict:>8}" for k in recall.by_kind]
    return lines
