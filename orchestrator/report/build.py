"""A run directory, read through the typed readers, turned into what the report shows."""

from collections import Counter
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
    DocumentView,
    ExampleCard,
    PolicyRow,
    RejectedItem,
    ReportView,
    StageRow,
)
from synthgen.orchestrator.run.stages.write import example_id
from synthgen.orchestrator.rundir.documents import load_document
from synthgen.schemas.items import Evidence, Policy, TestCase
from synthgen.schemas.layout import CALLS_FILE, TRACE_FILE
from synthgen.schemas.manifest import TokenUsage


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


def example_cards(run: LoadedRun, rejected: list[RejectedItem]) -> list[ExampleCard]:
    """Accepted examples in dataset order, then rejected ones in the order they were rejected."""
    cards = []
    for example in run.examples:
        test_case = run.test_case_by_id[example.test_case_id]
        criteria = [
            CriterionView(c.criterion, c.policy_id, cited(example.metadata.document_id, c.evidence))
            for c in example.evaluation_criteria
        ]
        use_case = run.use_case_by_id[test_case.use_case_id]
        cards.append(ExampleCard(example.id, "accepted", test_case, use_case, example, criteria, None))
    test_case_of = {example_id(tc): tc for tc in run.test_cases}
    for item in rejected:
        test_case = test_case_of.get(item.example_id or "")
        if test_case is not None:
            use_case = run.use_case_by_id[test_case.use_case_id]
            cards.append(ExampleCard(example_id(test_case), "rejected", test_case, use_case, None, [], item))
    return cards


def _uncovered_because(policy: Policy, test_cases: list[TestCase], cards: list[ExampleCard]) -> str:
    """Why no accepted example cites the policy."""
    status = {card.test_case.id: card for card in cards}
    holding = [tc for tc in test_cases if policy.id in tc.policy_ids]
    written = [tc for tc in holding if tc.id in status and status[tc.id].status == "accepted"]
    if written:
        return f"in the test cases of {len(written)} accepted example(s), but none of their criteria cites it"
    rejected = [status[tc.id] for tc in holding if tc.id in status]
    if rejected:
        reasons = Counter(card.rejection.reason_code for card in rejected if card.rejection)
        return "only its rejected examples were about it (" + ", ".join(f"{r}: {n}" for r, n in reasons.items()) + ")"
    if holding:
        return f"in {len(holding)} test case(s) whose examples were never written"
    return "no test case was written for it (not chosen by the covering array, or cut by --max-examples)"


def policy_rows(run: LoadedRun, cards: list[ExampleCard]) -> list[PolicyRow]:
    cited_by: dict[str, list[str]] = {p.id: [] for p in run.policies}
    criteria: Counter[str] = Counter()
    for example in run.examples:
        for criterion in example.evaluation_criteria:
            criteria[criterion.policy_id] += 1
            if example.id not in cited_by.setdefault(criterion.policy_id, []):
                cited_by[criterion.policy_id].append(example.id)
    return [
        PolicyRow(
            policy=policy,
            evidence=cited(policy.document_id, policy.evidence),
            cited_by=cited_by[policy.id],
            criteria=criteria[policy.id],
            uncovered_because="" if cited_by[policy.id] else _uncovered_because(policy, run.test_cases, cards),
        )
        for policy in run.policies
    ]


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
        policies=policy_rows(run, cards),
        use_cases=run.use_cases,
        examples=cards,
        other_rejections=[item for item in rejected if item.example_id not in carded],
        documents=documents,
        trace_note=trace_note,
    )
