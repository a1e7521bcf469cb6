"""The end-of-run summary printed on stdout."""

import json
from decimal import Decimal
from typing import Any

from synthgen.orchestrator.llm.costs import usage_cost, usd
from synthgen.orchestrator.run.pipeline import RunResult
from synthgen.schemas.layout import DATASET_FILE, MANIFEST_FILE
from synthgen.schemas.manifest import RunManifest, TokenUsage


def render_summary(result: RunResult) -> str:
    manifest = result.manifest
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
    total = sum(manifest.usage_by_model.values(), TokenUsage())
    examples = next(o.records for o in manifest.outputs if o.name == DATASET_FILE)
    lines += [
        "",
        f"dataset  {examples} examples from {len(manifest.inputs)} document(s)",
        f"tokens   {total.input_tokens:,} in / {total.output_tokens:,} out in {total.requests:,} model requests",
        f"cost     {cost_line(manifest)}",
        f"files    {result.run_dir}/  " + " ".join([o.name for o in manifest.outputs] + [MANIFEST_FILE]),
    ]
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


def _usage_json(usage: TokenUsage) -> dict[str, Any]:
    return usage.model_dump(mode="json")


def summary_json(result: RunResult) -> str:
    """The summary as one JSON object, for scripts: `synthgen agent run ... --json | jq`."""
    manifest = result.manifest
    total = sum(manifest.usage_by_model.values(), TokenUsage())
    data = {
        "run_id": manifest.run_id,
        "run_dir": str(result.run_dir),
        "model": manifest.config.model,
        "seed": manifest.config.seed,
        "documents": [i.path for i in manifest.inputs],
        "examples": next(o.records for o in manifest.outputs if o.name == DATASET_FILE),
        "stages": {
            name: {
                "requested": stage.requested,
                "accepted": stage.accepted,
                "rejected": stage.rejected,
                "reasons": stage.reasons,
                "usage": _usage_json(stage.usage),
            }
            for name, stage in manifest.stages.items()
        },
        "usage": _usage_json(total),
        "usage_by_model": {name: _usage_json(u) for name, u in manifest.usage_by_model.items()},
        "usage_by_agent": {name: _usage_json(u) for name, u in manifest.usage_by_agent.items()},
        "spent_this_run": _usage_json(manifest.volatile.calls.live),
        "replayed": _usage_json(manifest.volatile.calls.replayed),
        "pricing": manifest.pricing.model_dump(mode="json") if manifest.pricing else None,
        "files": [*(o.name for o in manifest.outputs), MANIFEST_FILE],
        "stale_calls": len(result.stale_calls),
    }
    return json.dumps(data, indent=2)
