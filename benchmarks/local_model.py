"""Local-model pipeline speed: tokens/s and wall time per stage, against plain generation measured in the same run.

    .venv/bin/python benchmarks/local_model.py [local|local:1.5b] [DOCUMENT] [MAX_EXAMPLES]

The baseline is one chat completion of similar size sent straight to the same llama.cpp server
(no agent, no validation); its output tokens/s is what the hardware gives. Each stage's ratio to
it shows what the pipeline adds on top of generation: prompt reading, retries, validation.
"""

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx2
from pydantic_ai.models import override_allow_model_requests

from synthgen.orchestrator.llm.local.adapter import LocalChatModel
from synthgen.orchestrator.llm.resolve import resolve_model
from synthgen.orchestrator.run.pipeline import RunOptions, run_pipeline
from synthgen.orchestrator.rundir.documents import load_documents
from synthgen.schemas.layout import DATASET_FILE

BASELINE_PROMPT = "Write a numbered list of 30 short rules a customer-support assistant must follow."


async def baseline_tokens_per_second(server_url: str) -> float:
    body = {
        "messages": [{"role": "user", "content": BASELINE_PROMPT}],
        "max_tokens": 400,
        "temperature": 0,
        "seed": 42,
        "cache_prompt": False,
    }
    async with httpx2.AsyncClient(timeout=600) as client:
        response = await client.post(f"{server_url}/chat/completions", json=body)
    timings = response.raise_for_status().json()["timings"]
    return float(timings["predicted_n"]) / (float(timings["predicted_ms"]) / 1000 + float(timings["prompt_ms"]) / 1000)


async def main(name: str, document: Path, max_examples: int) -> None:
    resolved = resolve_model(name, None)
    if not isinstance(resolved.model, LocalChatModel):
        raise SystemExit(f"{name} is not an embedded local model: try local or local:1.5b")
    server = resolved.model.server
    started = time.perf_counter()
    url = await server.base_url()
    print(f"{resolved.name}: server up in {time.perf_counter() - started:.1f} s")
    baseline = await baseline_tokens_per_second(url)
    print(f"baseline: plain chat completion, {baseline:.1f} output tokens/s (prompt time included)")
    with tempfile.TemporaryDirectory() as tmp:
        options = RunOptions(out=Path(tmp) / "run", max_examples=max_examples)
        async with resolved:
            result = await run_pipeline(load_documents([document]), resolved, options)
    manifest = result.manifest
    print(f"\n{'stage':<10}{'requests':>9}{'in tok':>9}{'out tok':>9}{'wall s':>9}{'out tok/s':>11}{'vs baseline':>13}")
    for stage, report in manifest.stages.items():
        seconds = manifest.volatile.stage_seconds.get(stage, 0.0)
        rate = report.usage.output_tokens / seconds if seconds else 0.0
        print(
            f"{stage:<10}{report.usage.requests:>9}{report.usage.input_tokens:>9}{report.usage.output_tokens:>9}"
            f"{seconds:>9.1f}{rate:>11.1f}{rate / baseline:>12.2f}x"
        )
    total = sum(manifest.volatile.stage_seconds.values())
    examples = next(o.records for o in manifest.outputs if o.name == DATASET_FILE)
    print(f"\n{examples} examples in {total:.0f} s")


if __name__ == "__main__":
    model_name = sys.argv[1] if len(sys.argv) > 1 else "local"
    doc = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).parent.parent / "examples" / "refund_policy.md"
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    with override_allow_model_requests(True):
        asyncio.run(main(model_name, doc, count))
