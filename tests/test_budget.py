"""--max-cost: refuse to start on an estimate over budget or an unpriced model; stop cleanly once spent."""

import asyncio
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai.messages import ModelResponse, TextPart
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider
from pydantic_ai.usage import RequestUsage
from typer.testing import CliRunner

from synthgen.orchestrator.cli.app import app
from synthgen.orchestrator.llm.costs import BudgetExceeded, CostLedger, estimate_for, model_price
from synthgen.orchestrator.rundir.documents import load_documents
from synthgen.testing.fake_openai import FakeOpenAIServer, Fault, agent_of
from synthgen.testing.scripted import ScriptedModel

DATA_FILES = ["use_cases.json", "policies.json", "decisions.json", "test_cases.json", "dataset.jsonl", "manifest.json"]
runner = CliRunner()


def _answer(cost_tokens: int) -> ModelResponse:
    return ModelResponse(
        parts=[TextPart("x")], model_name="gpt-4o", provider_name="openai",
        usage=RequestUsage(input_tokens=cost_tokens, output_tokens=0),
    )  # fmt: skip


def test_the_ledger_stops_new_live_calls_once_spent_but_lets_those_in_flight_land() -> None:
    async def scenario() -> list[str]:
        ledger = CostLedger(max_cost=Decimal("0.01"))
        events: list[str] = []
        await ledger.admit_live_call()
        await ledger.admit_live_call()  # two calls in flight, nothing spent yet

        async def third() -> None:
            try:
                await ledger.admit_live_call()
            except BudgetExceeded as err:
                events.append(f"refused after {ledger.live.requests} recorded: {err}")

        waiting = asyncio.create_task(third())
        ledger.record("a" * 64, "write", "one", "example_writer", _answer(4000), replayed=False)  # $0.01: spent
        await asyncio.sleep(0)
        events.append("first landed")
        assert not waiting.done()  # the second call is still in flight: its answer must be recorded first
        ledger.record("b" * 64, "write", "two", "example_writer", _answer(4000), replayed=False)
        await waiting
        return events

    events = asyncio.run(scenario())
    assert events[0] == "first landed"
    assert events[1].startswith("refused after 2 recorded: --max-cost reached: this run spent $0.0200 of $0.0100")


@pytest.mark.parametrize("replayed", [True, False])
def test_replayed_calls_do_not_count_against_the_budget(replayed: bool) -> None:
    async def scenario() -> str:
        ledger = CostLedger(max_cost=Decimal("0.01"))
        if not replayed:
            await ledger.admit_live_call()
        ledger.record("a" * 64, "write", "one", "example_writer", _answer(400_000), replayed=replayed)  # $1 list price
        assert ledger.entries[0].usage.cost_usd == Decimal(1)
        try:
            await ledger.admit_live_call()
        except BudgetExceeded:
            return f"refused, {ledger.spent} spent"
        return f"admitted, {ledger.spent} spent, {ledger.replayed.cost_usd} replayed"

    # The same $1 answer: replayed, it costs this run nothing and the next live call goes ahead;
    # live, it spent the budget and the next live call is refused.
    assert asyncio.run(scenario()) == ("admitted, 0 spent, 1.00 replayed" if replayed else "refused, 1.00 spent")


def test_an_unpriced_model_with_max_cost_is_refused_before_anything_is_written(tmp_path: Path, use_model: Any) -> None:
    scripted = use_model(ScriptedModel())
    doc = tmp_path / "rules.md"
    doc.write_text("# Rules\nAgents must be polite.\n")
    result = runner.invoke(app, ["agent", "run", str(doc), "--out", str(tmp_path / "out"), "--max-cost", "1"])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith(
        "synthgen: error: --max-cost needs a price, and function:scripted has none in genai-prices"
    )
    assert result.stderr.splitlines()[-1].endswith("drop --max-cost, or choose a priced model")
    assert scripted.requests == [] and not (tmp_path / "out").exists()


def test_an_estimate_over_budget_refuses_to_start(tmp_path: Path, corpus_dir: Path) -> None:
    # No server needed: nothing is sent when the estimate already exceeds the budget.
    out = tmp_path / "out"
    result = runner.invoke(app, ["agent", "run", str(corpus_dir / "tau2_retail_policy.md"), "--out", str(out),
                                 "--base-url", "http://127.0.0.1:9/v1", "--model", "gpt-4o-mini",
                                 "--max-cost", "0.001"], env={"OPENAI_API_KEY": "sk-test-unused"})  # fmt: skip
    assert result.exit_code == 1
    last = result.stderr.splitlines()[-1]
    assert last.startswith("synthgen: error: estimated cost $0.0")
    assert "exceeds --max-cost $0.001000: raise --max-cost, or lower --max-examples" in last
    assert not out.exists()


def _every_design_and_example_breaks_its_schema_twice(number: int, body: dict[str, Any]) -> Fault | None:
    """The design's and each example's first two answers break the output schema (a retry adds the answer and
    the retry prompt to the messages): two retries each that the estimate leaves out."""
    early_try = len(body.get("messages", [])) <= 4
    return Fault.schema_violation() if agent_of(body) in ("designer", "example_writer") and early_try else None


def _command(doc: Path, out: Path, base_url: str, max_cost: str) -> list[str]:
    return [sys.executable, "-m", "synthgen", "agent", "run", str(doc), "--out", str(out), "--base-url", base_url,
            "--model", "gpt-4o-mini", "--max-examples", "6", "--concurrency", "2", "--max-cost", max_cost]  # fmt: skip


def _recorded(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "calls.jsonl").read_text().splitlines()]


def test_the_budget_stops_a_run_against_the_fake_server_and_a_higher_budget_resumes_it(
    corpus_dir: Path, tmp_path: Path
) -> None:
    doc = corpus_dir / "tau2_retail_policy.md"
    out = tmp_path / "run"
    env = {**os.environ, "OPENAI_API_KEY": "sk-test-not-a-real-key"}
    # Just above the estimate, which leaves retries out: the retries then push the real spend past it.
    model = OpenAIChatModel("gpt-4o-mini", provider=OpenAIProvider(base_url="http://127.0.0.1:9/v1", api_key="x"))
    estimate = estimate_for(load_documents([doc], 1_000_000), model_price(model), window_tokens=1500, max_examples=6)
    assert estimate.usd is not None
    budget = (estimate.usd * Decimal("1.05")).quantize(Decimal("0.000001"))
    with FakeOpenAIServer(max_seconds=120, fault_for=_every_design_and_example_breaks_its_schema_twice) as server:
        stopped = subprocess.run(_command(doc, out, server.base_url, str(budget)), env=env, check=False, capture_output=True,
                                 text=True, timeout=120)  # fmt: skip
        assert stopped.returncode == 1, stopped.stderr
        error = stopped.stderr.splitlines()[-1]
        assert error.startswith("synthgen: error: --max-cost reached: this run spent $0.00")
        assert f"every answer is kept in {out}/calls.jsonl. Re-run the same command with a higher --max-cost" in error
        assert "Traceback" not in stopped.stderr and stopped.stdout == ""
        kept = _recorded(out)
        assert len(kept) == server.request_count  # every answer paid for is recorded, none lost in flight
        spent = sum(Decimal(str(r["usage"]["cost_usd"])) for r in kept)
        assert spent >= budget
        assert not any((out / name).exists() for name in DATA_FILES)  # no partial outputs
        assert any(r["stage"] == "write" for r in kept)

        served = server.request_count
        resumed = subprocess.run(_command(doc, out, server.base_url, str(budget * 3)), env=env, check=False, capture_output=True,
                                 text=True, timeout=120)  # fmt: skip
        assert resumed.returncode == 0, resumed.stderr
        live = server.request_count - served
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["volatile"]["calls"]["replayed"]["requests"] == len(kept)
    assert manifest["volatile"]["calls"]["live"]["requests"] == live
    assert manifest["volatile"]["max_cost_usd"] == float(budget * 3)
    assert len(manifest["calls"]) == len(kept) + live
