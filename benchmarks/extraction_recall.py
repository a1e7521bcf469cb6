"""Extraction recall of the recorded runs: the baseline a new extraction must beat (issue 12).

    .venv/bin/python benchmarks/extraction_recall.py

Replays each cassette in evals/cassettes that has a gold rule list (no model, no network) and
prints, per document: loose and strict recall and precision against the gold list (the tests of
`synthgen eval --gold`, tools/recall.py), policies found, the extraction stage's model calls and
tokens (input + output, as recorded), and extraction tokens per rule found (strictly).
"""

import asyncio
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from synthgen.evals.suite import RECORDED_RUNS, RecordedRun, replay_into
from synthgen.orchestrator.rundir.evaluate import evaluate_run, read_gold
from synthgen.tools.recall import RecallReport


@dataclass(frozen=True)
class Row:
    case: RecordedRun
    recall: RecallReport
    calls: int
    tokens: int

    @property
    def tokens_per_found_rule(self) -> str:
        found = self.recall.strict_found
        return f"{self.tokens / found:,.0f}" if found else "-"


async def measure(case: RecordedRun, gold: Path) -> Row:
    with tempfile.TemporaryDirectory(prefix=f"synthgen-recall-{case.name}-") as tmp:
        run_dir = Path(tmp) / "run"
        result = await replay_into(case, run_dir)
        report = evaluate_run(run_dir, read_gold(gold))
    assert report.recall is not None, report.problems
    usage = result.manifest.stages["extract"].usage
    return Row(case, report.recall, usage.requests, usage.input_tokens + usage.output_tokens)


def percent(value: float) -> str:
    return f"{value * 100:.1f} %"


def main() -> None:
    rows = [
        asyncio.run(measure(case, case.gold_path))
        for case in RECORDED_RUNS
        if case.gold_path is not None and case.cassette.exists()
    ]
    print(f"extraction recall of the recorded runs, replayed {date.today().isoformat()}")
    header = (
        f"{'document':<27}{'model':<12}{'rules':>6}{'policies':>9}{'loose':>18}{'strict':>18}"
        f"{'precision':>16}{'calls':>6}{'tokens':>8}{'tokens/rule':>12}"
    )
    print(header)
    for row in rows:
        r = row.recall
        print(
            f"{row.case.document.name:<27}{row.case.model:<12}{r.rules:>6}{r.policies:>9}"
            f"{percent(r.loose_recall):>9} ({r.loose_found:>2}/{r.rules:<2}){percent(r.strict_recall):>9} "
            f"({r.strict_found:>2}/{r.rules:<2}){percent(r.precision):>9} ({r.policies_stating_a_rule:>2}/{r.policies:<2})"
            f"{row.calls:>6}{row.tokens:>8,}{row.tokens_per_found_rule:>12}"
        )


if __name__ == "__main__":
    main()
