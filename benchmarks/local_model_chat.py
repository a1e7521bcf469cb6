"""Time one structured call on an embedded local model: load, wall time, prompt and output tokens per second.

    .venv/bin/python benchmarks/local_model_chat.py [local|local:0.5b|local:1.5b] [DOCUMENT]

The call goes through a pydantic-ai Agent and the local model adapter, as the pipeline's calls do.
llama.cpp's own timings (prompt evaluation vs generation) are not visible through pydantic-ai, so
the same request, as the adapter sends it, is sent once more straight to the server to read them.
"""

import asyncio
import sys
import time
from pathlib import Path

import httpx2
from pydantic import BaseModel
from pydantic_ai import Agent, ModelSettings
from pydantic_ai.models import override_allow_model_requests

from synthgen.orchestrator.llm.local.adapter import LocalChatModel
from synthgen.orchestrator.llm.local.catalog import get_spec
from synthgen.orchestrator.llm.local.runtime import XllamacppServer
from synthgen.orchestrator.llm.local.weights import verify

INSTRUCTIONS = "List the section headings of the policy, in order, exactly as written."
SETTINGS = ModelSettings(temperature=0, seed=42, max_tokens=512)


class Headings(BaseModel):
    headings: list[str]


async def main(name: str, document: Path) -> None:
    spec = get_spec(name)
    server = XllamacppServer(spec, verify(name))
    started = time.perf_counter()
    base_url = await server.base_url()
    print(f"{spec.name} ({spec.upstream}): loaded in {time.perf_counter() - started:.1f} s")

    text = document.read_text()
    agent = Agent(LocalChatModel(spec.model_name, server), output_type=Headings, instructions=INSTRUCTIONS)
    started = time.perf_counter()
    result = await agent.run(text, model_settings=SETTINGS)
    wall = time.perf_counter() - started
    usage = result.usage
    print(
        f"structured call via Agent: {wall:.1f} s, {usage.input_tokens} prompt + {usage.output_tokens} output tokens, "
        f"{len(result.output.headings)} headings"
    )

    schema = Headings.model_json_schema() | {"additionalProperties": False}
    body = {
        "messages": [{"role": "system", "content": INSTRUCTIONS}, {"role": "user", "content": text}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "headings", "schema": schema, "strict": True},
        },
        "cache_prompt": False,
        **SETTINGS,
    }
    async with httpx2.AsyncClient(timeout=600) as client:
        response = await client.post(f"{base_url}/chat/completions", json=body)
    timings = response.raise_for_status().json()["timings"]
    print(
        f"llama.cpp timings, same request: prompt {timings['prompt_n']} tokens at {timings['prompt_per_second']:.0f}/s, "
        f"output {timings['predicted_n']} tokens at {timings['predicted_per_second']:.1f}/s"
    )
    server.close()


if __name__ == "__main__":
    model_name = sys.argv[1] if len(sys.argv) > 1 else "local"
    document = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).parent.parent / "examples/refund_policy.md"
    with override_allow_model_requests(True):
        asyncio.run(main(model_name, document))
