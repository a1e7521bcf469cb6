"""The end-of-run summary printed on stdout."""

from decimal import Decimal
from pathlib import Path

from pydantic import Field

from synthgen.orchestrator.llm.costs import usage_cost, usd
from synthgen.orchestrator.run.pipeline import RunResult
from synthgen.schemas.base import StrictModel
from synthgen.schemas.layout import DATASET_FILE, MANIFEST_FILE
from synthgen.schemas.manifest import PricingInfo, RunManifest, StageReport, TokenUsage


def render_summary(result: RunResult, report: Path | None = None) -> str:
    manifest, summary = result.manifest, run_summary(result, report)
    lines = [
        f"run      {manifest.run_id}",
        f"model    {manifest.config.model}   seed {manifest.config.seed}"
        + (
            "   (embedded local model: demo quality, review expected outputs before use)"
            if manifest.config.demo_quality
            else ""
        ),
        "",
        f"{'stage':<10}{'requested':>10}{'accepted':>10}{'rejected':>10}{'tokens':>11}{'cost':>12}  reasons",
    ]
    for name, stage in manifest.stages.items():
        reasons = ", ".join(f"{code}: {count}" for code, count in sorted(stage.reasons.items()))
        tokens = stage.usage.input_tokens + stage.usage.output_tokens
        lines.append(
            f"{name:<10}{stage.requested:>10}{stage.accepted:>10}{stage.rejected:>10}{tokens:>11,}"
            f"{usage_cost(stage.usage):>12}  {reasons}".rstrip()
        )
    total = summary.usage
    lines += [
        "",
        f"dataset  {summary.examples} examples from {len(summary.documents)} document(s)",
        f"tokens   {total.input_tokens:,} in / {total.output_tokens:,} out in {total.requests:,} model requests",
        f"cost     {cost_line(manifest)}",
        f"files    {summary.run_dir}/  " + " ".join(summary.files),
    ]
    if summary.report is not None:
        lines.append(f"report   {summary.report}")
    return "\n".join(lines)


def cost_line(manifest: RunManifest) -> str:
    """The dataset's list-price cost (reproducible) and what this invocation actually spent (live calls)."""
    total = sum(manifest.usage_by_model.values(), TokenUsage())
    pricing = f"genai-prices {manifest.pricing.version}" if manifest.pricing else "list prices"
    if total.requests and total.cost_usd is None:
        models = ", ".join(manifest.usage_by_model)
        text = f"unpriced: no known price for {models} ({pricing})"
    else:
        text = f"{usage_cost(total)} at list price ({pricing})"
    live, replayed = manifest.volatile.calls.live, manifest.volatile.calls.replayed
    if live.requests and live.cost_usd is None:
        text += f"; {live.requests} live call(s) this run"
    else:
        text += (
            f"; spent this run {usage_cost(live) if live.requests else usd(Decimal(0))} on {live.requests} live call(s)"
        )
    if replayed.requests:
        text += f", {replayed.requests} replayed from calls.jsonl at no cost"
    return text


class RunSummary(StrictModel):
    """What `synthgen agent run --json` prints: the run's outcome, for scripts (`... --json | jq`)."""

    run_id: str
    run_dir: str
    model: str
    seed: int
    documents: list[str]
    examples: int
    stages: dict[str, StageReport]
    usage: TokenUsage = Field(description="Every call the dataset used, replayed or live, at list price.")
    usage_by_model: dict[str, TokenUsage]
    usage_by_agent: dict[str, TokenUsage]
    spent_this_run: TokenUsage = Field(description="Live calls of this invocation: the money spent now.")
    replayed: TokenUsage = Field(description="Calls answered from calls.jsonl, at no cost.")
    pricing: PricingInfo | None
    files: list[str]
    report: str | None = Field(description="The HTML page to review the run in; none with --no-report.")
    stale_calls: int = Field(description="Recorded calls this run no longer asked for: its prompts or inputs changed.")


def run_summary(result: RunResult, report: Path | None = None) -> RunSummary:
    manifest = result.manifest
    return RunSummary(
        run_id=manifest.run_id,
        run_dir=str(result.run_dir),
        model=manifest.config.model,
        seed=manifest.config.seed,
        documents=[i.path for i in manifest.inputs],
        examples=next(o.records for o in manifest.outputs if o.name == DATASET_FILE),
        stages=manifest.stages,
        usage=sum(manifest.usage_by_model.values(), TokenUsage()),
        usage_by_model=manifest.usage_by_model,
        usage_by_agent=manifest.usage_by_agent,
        spent_this_run=manifest.volatile.calls.live,
        replayed=manifest.volatile.calls.replayed,
        pricing=manifest.pricing,
        files=[*(o.name for o in manifest.outputs), MANIFEST_FILE],
        report=str(report) if report is not None else None,
        stale_calls=len(result.stale_calls),
    )


def summary_json(result: RunResult, report: Path | None = None) -> str:
    """The summary as one JSON object."""
    return run_summary(result, report).model_dump_json(indent=2)
