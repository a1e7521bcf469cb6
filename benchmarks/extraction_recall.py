"""Extraction recall against the gold lists: of the recorded runs, or of a live extract stage (issue 12).

    .venv/bin/python benchmarks/extraction_recall.py
    .venv/bin/python benchmarks/extraction_recall.py --live local:1.5b --doc examples/refund_policy.md \\
        --gold ../shared/gold/refund_policy.json --record benchmarks/recordings/refund_policy-1.5b

Without --live, replays each cassette in evals/cassettes that has a gold rule list (no model, no
network). With --live, runs ONLY the extract stage of one document with the given model, every
call recorded into the --record directory's calls.jsonl, so the same command re-runs from the
recording (replayed calls cost no time; --replay refuses to call the model at all).

Prints, per document: loose and strict recall and precision against the gold list (the tests of
`synthgen eval --gold`, tools/recall.py), evidence verified, policies found, the extraction
stage's model calls and tokens (input + output), tokens per rule found (strictly) and wall time.
A live run also prints the same figures without the policies the normative-cue rule decided
(tools/decisions.py), to show what that rule adds, and the stage's counts.
"""

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pydantic_ai import ModelSettings

from synthgen.evals.suite import RECORDED_RUNS, replay_into
from synthgen.orchestrator.llm.costs import CostLedger
from synthgen.orchestrator.llm.recording import CallLog, RecordingModel
from synthgen.orchestrator.llm.resolve import resolve_model
from synthgen.orchestrator.llm.retries import AdaptiveLimiter
from synthgen.orchestrator.run.items import StageContext
from synthgen.orchestrator.run.runner import ModelRunner
from synthgen.orchestrator.run.stages.extract import extract
from synthgen.orchestrator.rundir.documents import load_documents
from synthgen.orchestrator.rundir.evaluate import evaluate_run, read_gold
from synthgen.schemas.layout import CALLS_FILE
from synthgen.schemas.manifest import StageReport
from synthgen.tools.evidence import check_evidence
from synthgen.tools.recall import RecallReport, measure_recall


@dataclass(frozen=True)
class Row:
    document: str
    model: str
    recall: RecallReport
    calls: int
    tokens: int
    evidence: tuple[int, int] = (0, 0)  # verified, checked
    seconds: float | None = None

    @property
    def tokens_per_found_rule(self) -> str:
        found = self.recall.strict_found
        return f"{self.tokens / found:,.0f}" if found else "-"


def percent(value: float) -> str:
    return f"{value * 100:.1f} %"


HEADER = (
    f"{'document':<27}{'model':<12}{'rules':>6}{'policies':>9}{'loose':>18}{'strict':>18}"
    f"{'precision':>18}{'evidence':>10}{'calls':>6}{'tokens':>8}{'tokens/rule':>12}{'seconds':>9}"
)


def render(row: Row) -> str:
    r = row.recall
    verified, checked = row.evidence
    seconds = f"{row.seconds:,.0f}" if row.seconds is not None else "-"
    return (
        f"{row.document:<27}{row.model:<12}{r.rules:>6}{r.policies:>9}"
        f"{percent(r.loose_recall):>9} ({r.loose_found:>2}/{r.rules:<2}){percent(r.strict_recall):>9} "
        f"({r.strict_found:>2}/{r.rules:<2}){percent(r.precision):>9} ({r.policies_stating_a_rule:>3}/{r.policies:<3})"
        f"{(percent(verified / checked) if checked else '-'):>10}{row.calls:>6}{row.tokens:>8,}"
        f"{row.tokens_per_found_rule:>12}{seconds:>9}"
    )


async def replayed_row(case_name: str) -> Row:
    case = next(case for case in RECORDED_RUNS if case.name == case_name)
    assert case.gold_path is not None
    with tempfile.TemporaryDirectory(prefix=f"synthgen-recall-{case.name}-") as tmp:
        run_dir = Path(tmp) / "run"
        result = await replay_into(case, run_dir)
        report = evaluate_run(run_dir, read_gold(case.gold_path))
    assert report.recall is not None and report.scores is not None, report.problems
    usage = result.manifest.stages["extract"].usage
    scores = report.scores
    evidence = (scores.evidence_checked - scores.evidence_invalid, scores.evidence_checked)
    return Row(
        case.document.name,
        case.model,
        report.recall,
        usage.requests,
        usage.input_tokens + usage.output_tokens,
        evidence,
    )


async def live_rows(
    doc_path: Path, gold_path: Path, model_spec: str, record: Path, window_tokens: int, replay: bool
) -> list[Row]:
    """The extract stage alone on one document, recorded into `record`; the rows with and without the cue rule."""
    documents = load_documents([doc_path])
    doc = documents[0]
    gold = read_gold(gold_path)
    record.mkdir(parents=True, exist_ok=True)
    ledger = CostLedger(None, model_spec)
    started = time.monotonic()
    async with resolve_model(model_spec, None, replay=replay) as resolved:
        recording = RecordingModel(
            resolved.model, CallLog(record / CALLS_FILE), "replay" if replay else "record", ledger
        )
        runner = ModelRunner(recording, ModelSettings(temperature=0.0, seed=42), AdaptiveLimiter(1))
        extractions, report = await extract(
            documents, StageContext(runner, calls_path=record / CALLS_FILE), window_tokens
        )
    seconds = time.monotonic() - started
    extraction = extractions[0]
    print_report(report)
    usage = ledger.by_stage().get("extract")
    calls = usage.requests if usage else 0
    tokens = (usage.input_tokens + usage.output_tokens) if usage else 0
    evidence = [e for p in extraction.policies for e in p.evidence] + [
        e for u in extraction.use_cases for e in u.evidence
    ]
    verified = sum(check_evidence(doc, e).ok for e in evidence)
    by_cue = {pid for d in extraction.decisions if d.decided_by == "normative_cue" for pid in d.policy_ids}
    rows = []
    for label, policies in (
        (model_spec, extraction.policies),
        (f"{model_spec} -cue", [p for p in extraction.policies if p.id not in by_cue]),
    ):
        recall = measure_recall(doc, gold.rules, policies, gold.label)
        rows.append(Row(doc.file_name, label, recall, calls, tokens, (verified, len(evidence)), seconds))
    return rows


def print_report(report: StageReport) -> None:
    print(f"extract stage: requested {report.requested}, accepted {report.accepted}, rejected {report.rejected}")
    print(f"  reasons: {dict(sorted(report.reasons.items()))}")
    print(f"  notes:   {dict(sorted(report.notes.items()))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--live", metavar="MODEL", help="run the extract stage with this model, e.g. local:1.5b")
    parser.add_argument("--doc", type=Path, help="with --live: the document")
    parser.add_argument("--gold", type=Path, help="with --live: its gold rule list")
    parser.add_argument("--record", type=Path, help="with --live: directory of the recording (calls.jsonl)")
    parser.add_argument("--window-tokens", type=int, default=1500, help="with --live: token budget of one batch")
    parser.add_argument("--replay", action="store_true", help="with --live: answer only from the recording")
    args = parser.parse_args()
    print(f"extraction recall, {date.today().isoformat()}")
    if args.live:
        if not (args.doc and args.gold and args.record):
            parser.error("--live needs --doc, --gold and --record")
        rows = asyncio.run(live_rows(args.doc, args.gold, args.live, args.record, args.window_tokens, args.replay))
    else:
        rows = [
            asyncio.run(replayed_row(case.name)) for case in RECORDED_RUNS if case.gold_path and case.cassette.exists()
        ]
    print(HEADER)
    for row in rows:
        print(render(row))


if __name__ == "__main__":
    main()
