"""The end-of-run summary printed on stdout."""

from synthgen.orchestrator.pipeline import RunResult
from synthgen.schemas.manifest import TokenUsage


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
        f"{'stage':<10}{'requested':>10}{'accepted':>10}{'rejected':>10}  reasons",
    ]
    for name, stage in manifest.stages.items():
        reasons = ", ".join(f"{code}: {count}" for code, count in sorted(stage.reasons.items()))
        lines.append(f"{name:<10}{stage.requested:>10}{stage.accepted:>10}{stage.rejected:>10}  {reasons}".rstrip())
    total = sum(manifest.usage_by_model.values(), TokenUsage())
    examples = next(o.records for o in manifest.outputs if o.name == "dataset.jsonl")
    lines += [
        "",
        f"dataset  {examples} examples from {len(manifest.inputs)} document(s)",
        f"tokens   {total.input_tokens:,} in / {total.output_tokens:,} out in {total.requests:,} model requests",
        f"files    {result.run_dir}/  " + " ".join([o.name for o in manifest.outputs] + ["manifest.json"]),
    ]
    return "\n".join(lines)
