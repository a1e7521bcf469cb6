"""A run that stops (a stage over --max-failure-rate) cancels the model calls still queued, and waits for them."""

import asyncio
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai.exceptions import ModelHTTPError
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models.function import AgentInfo, FunctionModel

from synthgen.orchestrator.llm.resolve import ResolvedModel
from synthgen.orchestrator.run.failures import StageFailed
from synthgen.orchestrator.run.pipeline import RunOptions, run_pipeline
from synthgen.orchestrator.rundir.documents import load_documents
from synthgen.testing.scripted import ScriptedModel


def _failing_writer() -> FunctionModel:
    scripted = ScriptedModel()

    async def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if "expected_output" in info.output_tools[0].parameters_json_schema.get("properties", {}):
            await asyncio.sleep(0.01)  # the other examples queue behind the limit meanwhile
            raise ModelHTTPError(500, "scripted", {"error": "boom"})
        return scripted.respond(messages, info)

    return FunctionModel(respond, model_name="scripted")


def test_a_stopped_stage_leaves_no_call_queued_or_running(corpus_dir: Path, tmp_path: Path) -> None:
    documents = load_documents([corpus_dir / "tau2_retail_policy.md"])
    options = RunOptions(out=tmp_path / "run", max_examples=6, concurrency=1, max_failure_rate=0.0)
    left: list[Any] = []

    async def run() -> None:
        try:
            await run_pipeline(documents, ResolvedModel(_failing_writer(), "function:scripted"), options)
        finally:
            left.extend(task for task in asyncio.all_tasks() if task is not asyncio.current_task())

    with pytest.raises(StageFailed, match=r"^write stage: 1 of 6 items failed"):
        asyncio.run(run())
    assert left == []  # the five examples queued behind --concurrency 1 were cancelled and awaited
