"""A run directory, read through the typed readers, turned into what the report shows."""

from pathlib import Path

from synthgen.orchestrator.cli.summary import cost_line
from synthgen.orchestrator.exports.loaded import LoadedRun, load_run
from synthgen.orchestrator.llm.calls_file import read_calls
from synthgen.orchestrator.llm.costs import usage_cost
from synthgen.orchestrator.observe.tracing import read_spans
from synthgen.orchestrator.report.rejections import finished_invocation, rejected_items
from synthgen.orchestrator.report.view import (
    Cited,
    CriterionView,
    DecidingView,
    DecisionRow,
    DocumentView,
    ExampleCard,
    PairSide,
    PairView,
    ReasonGroup,
    RejectedItem,
    ReportView,
    RuleRow,
    StageRow,
)
from synthgen.orchestrator.run.stages.write import example_id
from synthgen.orchestrator.rundir.documents import load_document
from synthgen.schemas.candidates import CandidateDecisionRecord
from synthgen.schemas.items import Evidence, Policy, TestCase
from synthgen.schemas.layout import CALLS_FILE, TRACE_FILE
from synthgen.schemas.manifest import RuleCoverage, TokenUsage
from synthgen.schemas.outcomes import OUTCOMES, ContrastPair, Outcome


def cited(document_id: str, evidence: list[Evidence]) -> list[Cited]:
    return [Cited(document_id, e.line_start, e.line_end, e.quote) for e in evidence]


def read_rejections(run: LoadedRun) -> tuple[list[RejectedItem], str]:
    """The run's rejected items, and a note when trace.jsonl cannot tell them."""
    trace = run.run_dir / TRACE_FILE
    if not trace.is_file():
        return [], f"This run directory has no {TRACE_FILE}, so rejected items are counted above but not listed."
    roots = finished_invocation(read_spans(trace), run.manifest.run_id)
    if roots is None:
        return [], f"{TRACE_FILE} holds no finished invocation of this run, so rejected items are not listed."
    calls = {record.key: record for record in read_calls(run.run_dir / CALLS_FILE).records}
    return rejected_items(roots, calls), ""


def deciding_views(test_case: TestCase, policies: dict[str, Policy]) -> list[DecidingView]:
    return [DecidingView(rule, policies[rule.policy_id].statement) for rule in test_case.deciding_rules]


def example_cards(run: LoadedRun, rejected: list[RejectedItem]) -> list[ExampleCard]:
    """Accepted examples in dataset order, then rejected ones in the order they were rejected."""
    cards = []
    for example in run.examples:
        test_case = run.test_case_by_id[example.test_case_id]
        criteria = [
            CriterionView(c.criterion, c.policy_id, cited(example.metadata.document_id, c.evidence), c.source)
            for c in example.evaluation_criteria
        ]
        use_case = run.use_case_by_id[test_case.use_case_id]
        deciding = deciding_views(test_case, run.policy_by_id)
        cards.append(ExampleCard(example.id, "accepted", test_case, use_case, example, criteria, None, deciding))
    test_case_of = {example_id(tc): tc for tc in run.test_cases}
    for item in rejected:
        test_case = test_case_of.get(item.example_id or "")
        if test_case is not None:
            use_case = run.use_case_by_id[test_case.use_case_id]
            deciding = deciding_views(test_case, run.policy_by_id)
            cards.append(ExampleCard(example_id(test_case), "rejected", test_case, use_case, None, [], item, deciding))
    return cards


def pair_anchor(pair: ContrastPair) -> str:
    return f"pair-{pair.policy_id}-{pair.axis}"


def _disagreement(written: dict[Outcome, list[str]], paired: bool, recorded: RuleCoverage | None) -> str:
    """What manifest.json's rule_coverage says of a rule that the files (and its contrast_pairs) do not."""
    if recorded is None:
        return "manifest.json's rule_coverage has no entry for this rule"
    ids = sorted(i for examples in written.values() for i in examples)
    outcomes = sorted(outcome for outcome, examples in written.items() if examples)
    problems = []
    if sorted(recorded.examples) != ids:
        problems.append(f"{len(recorded.examples)} written example(s), the dataset {len(ids)}")
    if sorted(recorded.outcomes) != outcomes:
        problems.append(
            f"outcomes {', '.join(recorded.outcomes) or 'none'}, the dataset {', '.join(outcomes) or 'none'}"
        )
    if recorded.contrast_pair != paired:
        problems.append(f"contrast pair {'yes' if recorded.contrast_pair else 'no'}, its contrast_pairs "
                        f"{'yes' if paired else 'no'}")  # fmt: skip
    if bool(recorded.uncovered) == bool(ids):
        problems.append(f"uncovered {recorded.uncovered or 'no'}, yet the dataset has {len(ids)} example(s)")
    return "manifest.json's rule_coverage says " + "; ".join(problems) if problems else ""


def rule_rows(run: LoadedRun) -> list[RuleRow]:
    """Every rule in policy order: its written examples counted by outcome from the dataset and the
    test cases, checked against the manifest's rule_coverage, whose reason an uncovered rule shows."""
    written: dict[str, dict[Outcome, list[str]]] = {p.id: {o: [] for o in OUTCOMES} for p in run.policies}
    for example in run.examples:
        for policy_id in run.test_case_by_id[example.test_case_id].tested_policy_ids:
            written[policy_id][example.metadata.expected_outcome].append(example.id)
    recorded = {rule.policy_id: rule for rule in run.manifest.rule_coverage}
    pairs: dict[str, list[str]] = {}
    for pair in run.manifest.contrast_pairs:
        pairs.setdefault(pair.policy_id, []).append(pair_anchor(pair))
    return [
        RuleRow(
            policy=policy,
            evidence=cited(policy.document_id, policy.evidence),
            examples=written[policy.id],
            pairs=pairs.get(policy.id, []),
            uncovered=recorded[policy.id].uncovered if policy.id in recorded else None,
            disagreement=_disagreement(written[policy.id], policy.id in pairs, recorded.get(policy.id)),
        )
        for policy in run.policies
    ]


def pair_views(run: LoadedRun) -> list[PairView]:
    """The manifest's contrast pairs (both examples written): the axis value and outcome on each side."""
    example_of = {example.test_case_id: example.id for example in run.examples}
    views = []
    for pair in run.manifest.contrast_pairs:
        sides = []
        for test_case_id in pair.test_case_ids:
            test_case = run.test_case_by_id[test_case_id]
            status = next((r.status for r in test_case.deciding_rules if r.policy_id == pair.policy_id), None)
            value = test_case.axis_values.get(pair.axis, "")
            sides.append(
                PairSide(test_case_id, example_of.get(test_case_id), value, status, test_case.expected_outcome)
            )
        statement = run.policy_by_id[pair.policy_id].statement
        views.append(PairView(pair_anchor(pair), pair.policy_id, statement, pair.axis, sides))
    return views


def decision_row(record: CandidateDecisionRecord) -> DecisionRow:
    return DecisionRow(record, cited(record.document_id, [record.candidate.evidence])[0])


def left_out(decisions: list[CandidateDecisionRecord]) -> list[ReasonGroup]:
    """The candidates decided not to be rules, grouped by reason code, the largest group first."""
    groups: dict[str, list[DecisionRow]] = {}
    for record in decisions:
        if not record.is_rule:
            groups.setdefault(record.reason, []).append(decision_row(record))
    return [ReasonGroup(reason, rows) for reason, rows in sorted(groups.items(), key=lambda g: (-len(g[1]), g[0]))]


def stage_rows(run: LoadedRun) -> list[StageRow]:
    seconds = run.manifest.volatile.stage_seconds
    return [
        StageRow(
            name=name,
            requested=stage.requested,
            accepted=stage.accepted,
            rejected=stage.rejected,
            reasons=sorted(stage.reasons.items()),
            notes=sorted(stage.notes.items()),
            tokens=stage.usage.input_tokens + stage.usage.output_tokens,
            cost=usage_cost(stage.usage),
            seconds=seconds.get(name),
        )
        for name, stage in run.manifest.stages.items()
    ]


def build_report(run_dir: Path) -> ReportView:
    """The report of RUN_DIR; InputError when it is missing, incomplete or does not validate."""
    run = load_run(run_dir)
    manifest = run.manifest
    # load_run has checked every document against its recorded sha256.
    documents = [
        DocumentView(source, Path(source.path).name, load_document(Path(source.path)).lines)
        for source in manifest.inputs
    ]
    rejected, trace_note = read_rejections(run)
    cards = example_cards(run, rejected)
    carded = {card.id for card in cards if card.status == "rejected"}
    total = sum(manifest.usage_by_model.values(), TokenUsage())
    return ReportView(
        manifest=manifest,
        cost=cost_line(manifest),
        tokens_in=total.input_tokens,
        tokens_out=total.output_tokens,
        requests=total.requests,
        seconds=round(sum(manifest.volatile.stage_seconds.values()), 1),
        stages=stage_rows(run),
        rules=rule_rows(run),
        contrast_pairs=pair_views(run),
        use_cases=run.use_cases,
        examples=cards,
        other_rejections=[item for item in rejected if item.example_id not in carded],
        documents=documents,
        trace_note=trace_note,
        decisions=len(run.decisions),
        left_out=left_out(run.decisions),
        not_by_model=[decision_row(record) for record in run.decisions if record.decided_by != "model"],
    )
