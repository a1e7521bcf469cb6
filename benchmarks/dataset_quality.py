"""What a run's dataset is worth and what it cost: substance, coverage, calls and tokens per accepted example.

    .venv/bin/python benchmarks/dataset_quality.py
    .venv/bin/python benchmarks/dataset_quality.py --live local:1.5b --doc ../shared/corpus/tau2_retail_policy.md \\
        --max-examples 20 --record benchmarks/recordings/tau2-20-1.5b

Without --live, replays each cassette in evals/cassettes (no model, no network). With --live, runs
the whole pipeline on one document into the --record directory (every call kept in its
calls.jsonl, so the same command resumes where it stopped and then re-runs from the recording).

Prints, per run: examples accepted of those asked for, model calls and tokens per accepted example
(all stages, fixed costs included, and per stage), copied outputs (runs of the writer's
instructions), other substance flaws (echoed test case, reply contradicting its outcome,
conflicting labels), the gate and supervisor rejections by reason, contrast pairs written, rules
covered, and for a live run its wall time.
"""

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from synthgen.evals.suite import RECORDED_RUNS, replay_into
from synthgen.orchestrator.llm.resolve import resolve_model
from synthgen.orchestrator.run.pipeline import RunOptions, run_pipeline
from synthgen.orchestrator.rundir.documents import load_documents
from synthgen.orchestrator.rundir.evaluate import evaluate_run
from synthgen.schemas.manifest import RunManifest
from synthgen.tools.metrics import DatasetScores


@dataclass(frozen=True)
class Row:
    name: str
    model: str
    manifest: RunManifest
    scores: DatasetScores
    seconds: float | None = None

    def line(self) -> str:
        m, s = self.manifest, self.scores
        accepted = max(1, s.examples)
        calls = len(m.calls)
        tokens = sum(c.input_tokens + c.output_tokens for c in m.calls)
        asked = m.stages["write"].requested
        rejected = m.stages["write"].reasons | m.stages["supervise"].reasons
        rules = len(m.rule_coverage)
        covered = sum(1 for r in m.rule_coverage if r.examples)
        flaws = s.echoed + s.outcome_contradicted + s.conflicting_labels
        wall = f"{self.seconds:,.0f} s" if self.seconds is not None else "-"
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(rejected.items())) or "none"
        return (
            f"{self.name:<22} {self.model:<11} {s.examples:>3}/{asked:<3} {calls / accepted:>5.2f} "
            f"{tokens / accepted:>8,.0f}  {s.copied:>6} {flaws:>6}  {len(m.contrast_pairs):>5}  "
            f"{covered:>3}/{rules:<3}  {wall:>7}  {reasons}"
        )

    def per_stage(self) -> str:
        accepted = max(1, self.scores.examples)
        parts = []
        for stage, report in self.manifest.stages.items():
            tokens = report.usage.input_tokens + report.usage.output_tokens
            parts.append(f"{stage} {report.usage.requests / accepted:.2f} calls, {tokens / accepted:,.0f} tokens")
        return f"{'':<22} per accepted example: " + "; ".join(parts)


HEADER = (
    f"{'run':<22} {'model':<11} {'ex/asked':<7} {'calls':>5} {'tokens':>8}  {'copied':>6} {'flawed':>6}  "
    f"{'pairs':>5}  {'rules':>7}  {'wall':>7}  rejected (write + supervise)"
)


def row_of(name: str, model: str, run_dir: Path, seconds: float | None = None) -> Row:
    report = evaluate_run(run_dir)
    assert report.scores is not None, report.problems
    manifest = RunManifest.model_validate_json((run_dir / "manifest.json").read_bytes())
    return Row(name, model, manifest, report.scores, seconds)


async def replayed_rows() -> list[Row]:
    rows = []
    for case in RECORDED_RUNS:
        with tempfile.TemporaryDirectory(prefix=f"quality-{case.name}-") as tmp:
            run_dir = Path(tmp) / "run"
            await replay_into(case, run_dir)
            rows.append(row_of(case.name, case.model, run_dir))
    return rows


async def live_row(model_name: str, doc: Path, max_examples: int, record: Path) -> Row:
    started = time.monotonic()
    async with resolve_model(model_name, None) as model:
        await run_pipeline(load_documents([doc]), model, RunOptions(out=record, max_examples=max_examples))
    return row_of(f"{doc.stem} (live)", model_name, record, time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--live", metavar="MODEL", help="run the pipeline live with this model (needs --doc, --record)")
    parser.add_argument("--doc", type=Path)
    parser.add_argument("--max-examples", type=int, default=20)
    parser.add_argument("--record", type=Path, help="run directory of the live run; the same command resumes it")
    args = parser.parse_args()
    if args.live:
        if args.doc is None or args.record is None:
            parser.error("--live needs --doc and --record")
        rows = [asyncio.run(live_row(args.live, args.doc, args.max_examples, args.record))]
    else:
        rows = asyncio.run(replayed_rows())
    print(HEADER)
    for row in rows:
        print(row.line())
        print(row.per_stage())


if __name__ == "__main__":
    main()
