"""Eval suites: recorded runs replayed through the real pipeline, scored, with no network.

Each case is a document with the calls a real model made for it (evals/cassettes/<case>.calls.jsonl).
The task replays the whole pipeline from those calls only; evaluators score the dataset it
writes. A prompt or code change that alters results shows up as changed scores; one that changes
a request shows up as a replay miss naming the stale recorded call, never as a live model call.
"""

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pydantic_evals import Case, Dataset
from pydantic_evals.evaluators import Evaluator, EvaluatorContext

from synthgen.errors import SynthgenError
from synthgen.orchestrator.llm.resolve import resolve_model
from synthgen.orchestrator.run.pipeline import RunOptions, RunResult, run_pipeline
from synthgen.orchestrator.rundir.documents import load_documents
from synthgen.orchestrator.rundir.evaluate import evaluate_run, read_gold
from synthgen.schemas.layout import CALLS_FILE
from synthgen.tools.metrics import DatasetScores
from synthgen.tools.recall import RecallReport

EVALS_DIR = Path(__file__).resolve().parent
REPO_DIR = EVALS_DIR.parent
CASSETTES_DIR = EVALS_DIR / "cassettes"


@dataclass(frozen=True)
class RecordedRun:
    """A document (relative to the repository) and the settings its cassette was recorded with."""

    name: str
    document: Path
    model: str
    max_examples: int
    seed: int = 42
    window_tokens: int = 1500
    gold: Path | None = None  # the document's hand-written rule list, relative to the repository

    @property
    def gold_path(self) -> Path | None:
        return None if self.gold is None else REPO_DIR / self.gold

    @property
    def document_path(self) -> Path:
        return REPO_DIR / self.document

    def run_options(self, out: Path, replay: bool) -> RunOptions:
        """The settings it was recorded with: replays must ask exactly what the recording asked."""
        return RunOptions(
            out=out, seed=self.seed, max_examples=self.max_examples, window_tokens=self.window_tokens, replay=replay
        )

    @property
    def cassette(self) -> Path:
        return CASSETTES_DIR / f"{self.name}.calls.jsonl"


@dataclass
class ReplayOutcome:
    scores: DatasetScores | None = None
    problems: list[str] = field(default_factory=list)  # why nothing could be scored
    stale_calls: list[str] = field(default_factory=list)  # recorded calls the pipeline no longer asks for
    replayed_requests: int = 0
    live_requests: int = 0
    recall: RecallReport | None = None  # against the case's gold list, when it has one
    rules: int = 0
    rules_covered: int = 0  # rules that decide a written example
    contrast_pairs: int = 0  # designed contrast pairs whose two examples were both written


async def replay_into(case: RecordedRun, run_dir: Path) -> RunResult:
    """Run the pipeline on the case's document into `run_dir` (created, or empty), answering only
    from its cassette. Raises SynthgenError on a replay miss, or when the recorded run failed."""
    run_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(case.cassette, run_dir / CALLS_FILE)
    documents = load_documents([case.document_path])
    async with resolve_model(case.model, None, replay=True) as model:
        return await run_pipeline(documents, model, case.run_options(run_dir, replay=True))


async def replay_recorded_run(case: RecordedRun) -> ReplayOutcome:
    """Run the pipeline on the case's document answering only from its cassette."""
    with tempfile.TemporaryDirectory(prefix=f"synthgen-eval-{case.name}-") as tmp:
        run_dir = Path(tmp) / "run"
        try:
            result = await replay_into(case, run_dir)
        except SynthgenError as err:  # a replay miss, or the recorded run failing the same way again
            return ReplayOutcome(problems=[str(err)])
        report = evaluate_run(run_dir, read_gold(case.gold_path) if case.gold_path else None)
        manifest = result.manifest
        return ReplayOutcome(
            scores=report.scores,
            problems=report.problems,
            stale_calls=result.stale_calls,
            replayed_requests=manifest.volatile.calls.replayed.requests,
            live_requests=manifest.volatile.calls.live.requests,
            recall=report.recall,
            rules=len(manifest.rule_coverage),
            rules_covered=sum(1 for rule in manifest.rule_coverage if rule.examples),
            contrast_pairs=len(manifest.contrast_pairs),
        )


@dataclass
class Replays(Evaluator[RecordedRun, ReplayOutcome, None]):
    """Every call came from the cassette and every recorded call was used."""

    def evaluate(self, ctx: EvaluatorContext[RecordedRun, ReplayOutcome, None]) -> bool:
        out = ctx.output
        return not out.problems and not out.stale_calls and out.live_requests == 0


@dataclass
class EvidenceValidity(Evaluator[RecordedRun, ReplayOutcome, None]):
    """Share of evidence quotes verified against the source; the bar is 1.0."""

    def evaluate(self, ctx: EvaluatorContext[RecordedRun, ReplayOutcome, None]) -> float:
        return ctx.output.scores.evidence_validity if ctx.output.scores else 0.0


@dataclass
class LineageResolves(Evaluator[RecordedRun, ReplayOutcome, None]):
    """IDs are well formed and unique, and ex -> tc -> uc/pol references all resolve."""

    def evaluate(self, ctx: EvaluatorContext[RecordedRun, ReplayOutcome, None]) -> bool:
        return ctx.output.scores is not None and ctx.output.scores.lineage_resolves


@dataclass
class DuplicateRate(Evaluator[RecordedRun, ReplayOutcome, None]):
    def evaluate(self, ctx: EvaluatorContext[RecordedRun, ReplayOutcome, None]) -> float:
        return ctx.output.scores.duplicate_rate if ctx.output.scores else 1.0


@dataclass
class PolicyCoverage(Evaluator[RecordedRun, ReplayOutcome, None]):
    """Share of extracted policies that at least one example's criteria cite."""

    def evaluate(self, ctx: EvaluatorContext[RecordedRun, ReplayOutcome, None]) -> float:
        return ctx.output.scores.policy_coverage if ctx.output.scores else 0.0


@dataclass
class CriteriaGrounding(Evaluator[RecordedRun, ReplayOutcome, None]):
    """Share of criteria that cite a policy of their own test case."""

    def evaluate(self, ctx: EvaluatorContext[RecordedRun, ReplayOutcome, None]) -> float:
        return ctx.output.scores.criteria_grounding if ctx.output.scores else 0.0


@dataclass
class CriteriaOnTopic(Evaluator[RecordedRun, ReplayOutcome, None]):
    """Share of criteria that share a content word with the policy they cite."""

    def evaluate(self, ctx: EvaluatorContext[RecordedRun, ReplayOutcome, None]) -> float:
        return ctx.output.scores.criteria_relevance if ctx.output.scores else 0.0


@dataclass
class CopyRate(Evaluator[RecordedRun, ReplayOutcome, None]):
    """Share of examples that copy a run of the writer's instructions; the bar is 0."""

    def evaluate(self, ctx: EvaluatorContext[RecordedRun, ReplayOutcome, None]) -> float:
        return ctx.output.scores.copy_rate if ctx.output.scores else 1.0


@dataclass
class SubstanceFlaws(Evaluator[RecordedRun, ReplayOutcome, None]):
    """Examples that echo their test case, contradict their outcome, or conflict with another's label."""

    def evaluate(self, ctx: EvaluatorContext[RecordedRun, ReplayOutcome, None]) -> int:
        s = ctx.output.scores
        return s.echoed + s.outcome_contradicted + s.conflicting_labels if s else -1


@dataclass
class RuleCoverage(Evaluator[RecordedRun, ReplayOutcome, None]):
    """Share of extracted rules that decide at least one written example (bounded by --max-examples)."""

    def evaluate(self, ctx: EvaluatorContext[RecordedRun, ReplayOutcome, None]) -> float:
        return ctx.output.rules_covered / ctx.output.rules if ctx.output.rules else 0.0


@dataclass
class ContrastPairs(Evaluator[RecordedRun, ReplayOutcome, None]):
    """Contrast pairs written: two examples that differ in one value, with different outcomes, for one rule."""

    def evaluate(self, ctx: EvaluatorContext[RecordedRun, ReplayOutcome, None]) -> int:
        return ctx.output.contrast_pairs


@dataclass
class StrictRecall(Evaluator[RecordedRun, ReplayOutcome, None]):
    """Share of the gold list's rules a policy states (tools/recall.py); 0 for a case without a gold list."""

    def evaluate(self, ctx: EvaluatorContext[RecordedRun, ReplayOutcome, None]) -> float:
        return ctx.output.recall.strict_recall if ctx.output.recall else 0.0


@dataclass
class Precision(Evaluator[RecordedRun, ReplayOutcome, None]):
    """Share of policies that state a gold rule; 0 for a case without a gold list."""

    def evaluate(self, ctx: EvaluatorContext[RecordedRun, ReplayOutcome, None]) -> float:
        return ctx.output.recall.precision if ctx.output.recall else 0.0


@dataclass
class Examples(Evaluator[RecordedRun, ReplayOutcome, None]):
    """How many examples passed every gate and the supervisor."""

    def evaluate(self, ctx: EvaluatorContext[RecordedRun, ReplayOutcome, None]) -> int:
        return ctx.output.scores.examples if ctx.output.scores else 0


EVALUATORS = (
    Replays(),
    EvidenceValidity(),
    LineageResolves(),
    DuplicateRate(),
    PolicyCoverage(),
    CriteriaGrounding(),
    CriteriaOnTopic(),
    CopyRate(),
    SubstanceFlaws(),
    RuleCoverage(),
    ContrastPairs(),
    StrictRecall(),
    Precision(),
    Examples(),
)

CORPUS = Path("../shared/corpus")  # the shared corpus beside the checkout, as the tests expect it
SHARED_GOLD = Path("../shared/gold")  # hand-written rule lists of three documents

RECORDED_RUNS = (
    RecordedRun(
        "refund_policy",
        Path("examples/refund_policy.md"),
        "local:1.5b",
        max_examples=4,
        gold=SHARED_GOLD / "refund_policy.json",
    ),
)
# Not in the suite (issue 13): tau2_retail_policy, because its end-to-end run with the 1.5B writes no
# example that passes the gates (recorded twice on 2026-11-28 with 6 test cases: every answer was rejected,
# for values the conversation never states, replies that read the rules out or repeat the expected
# behaviour; the run is kept outside the repository); its extraction is measured by
# benchmarks/extraction_recall.py from benchmarks/recordings/tau2_retail_policy-1.5b); github_acceptable_use
# (its extraction is recorded in benchmarks/recordings/github_acceptable_use-1.5b; one writer answer and the
# review ran into the 4,096-token cap), mcp_tools_spec (524 lines, 118 candidates) and contoso_product_info_1
# (216 lines, 126 candidates): the 1.5B takes 30 to 40 minutes for each on two cores. mcp's gold list is
# evals/gold/mcp_tools_spec.json.


def recorded_runs_dataset(runs: tuple[RecordedRun, ...] = RECORDED_RUNS) -> Dataset[RecordedRun, ReplayOutcome, None]:
    return Dataset[RecordedRun, ReplayOutcome, None](
        name="synthgen-recorded-runs",
        cases=[Case(name=run.name, inputs=run) for run in runs if run.cassette.exists()],
        evaluators=list(EVALUATORS),
    )


def main() -> None:
    """Replay every recorded run and print the scores: `python -m synthgen.evals.suite`."""
    dataset = recorded_runs_dataset()
    report = dataset.evaluate_sync(replay_recorded_run, max_concurrency=1, progress=False)
    report.print(include_input=False, include_output=False)


if __name__ == "__main__":
    main()
