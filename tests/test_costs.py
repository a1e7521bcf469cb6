"""Tokens and cost: priced offline with genai-prices, unpriced models flagged (never $0), replay reproducible."""

import dataclasses
import json
import random
from decimal import Decimal
from pathlib import Path

import pytest
from inline_snapshot import snapshot
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.usage import RequestUsage
from typer.testing import CliRunner

from synthgen.orchestrator.cli import app as cli
from synthgen.orchestrator.llm import resolve as resolve_module
from synthgen.orchestrator.llm.costs import PRICES_VERSION, call_usage, model_price, price, usage_cost, usd
from synthgen.orchestrator.llm.resolve import ResolvedModel
from synthgen.schemas.manifest import TokenUsage
from synthgen.testing.scripted import ScriptedModel

runner = CliRunner()


def _response(
    model_name: str | None, provider: str | None, tokens_in: int = 1000, tokens_out: int = 500
) -> ModelResponse:
    return ModelResponse(
        parts=[TextPart("x")],
        model_name=model_name,
        provider_name=provider,
        usage=RequestUsage(input_tokens=tokens_in, output_tokens=tokens_out),
    )


def test_a_priced_model_costs_its_list_price() -> None:
    # gpt-4o: $2.50 per million input tokens, $10 per million output tokens.
    assert price(_response("gpt-4o", "openai")) == Decimal("0.0075")
    usage = call_usage(_response("gpt-4o", "openai", 10, 2))
    assert usage == TokenUsage(requests=1, input_tokens=10, output_tokens=2, cost_usd=Decimal("0.000045"))
    assert usage.model_dump(mode="json")["cost_usd"] == 4.5e-05  # a number in the manifest
    assert price(_response("gpt-4o-mini-2024-07-18", "openai")) == Decimal("0.00045")  # dated names resolve


@pytest.mark.parametrize(("model_name", "provider"), [("scripted", None), ("my-local-llm", "openai"), (None, None)])
def test_an_unknown_model_is_unpriced_never_free(model_name: str | None, provider: str | None) -> None:
    assert price(_response(model_name, provider)) is None
    usage = call_usage(_response(model_name, provider))
    assert usage.cost_usd is None and usage.unpriced_requests == 1
    assert usage_cost(usage) == "unpriced"


def test_totals_keep_unpriced_requests_apart_and_do_not_depend_on_order() -> None:
    priced = [call_usage(_response("gpt-4o", "openai", n, n // 3)) for n in range(1, 200, 7)]
    unpriced = call_usage(_response("scripted", None))
    mixed = sum([*priced, unpriced], TokenUsage())
    assert mixed.unpriced_requests == 1 and mixed.requests == len(priced) + 1
    assert mixed.cost_usd == sum((u.cost_usd for u in priced), Decimal(0))
    assert usage_cost(mixed) == f"{usd(mixed.cost_usd)} + 1 unpriced"
    shuffled = [*priced, unpriced]
    random.Random(7).shuffle(shuffled)
    assert sum(shuffled, TokenUsage()) == mixed  # exact Decimal sums: finishing order cannot change a total
    assert sum([unpriced, unpriced], TokenUsage()).cost_usd is None
    assert TokenUsage().cost_usd == 0 and usage_cost(TokenUsage()) == "$0.00"


def test_model_price_is_known_before_any_call() -> None:
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    local = OpenAIProvider(base_url="http://127.0.0.1:9/v1", api_key="unused")
    known = model_price(OpenAIChatModel("gpt-4o-mini", provider=local))
    assert known is not None and (known.input_mtok, known.output_mtok) == (Decimal("0.15"), Decimal("0.6"))
    assert model_price(OpenAIChatModel("qwen2.5-7b-instruct", provider=local)) is None
    assert model_price(ScriptedModel().model()) is None


def _priced_scripted(scripted: ScriptedModel) -> FunctionModel:
    """The scripted model, answering as if it were gpt-4o at OpenAI."""

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return dataclasses.replace(scripted.respond(messages, info), model_name="gpt-4o", provider_name="openai")

    return FunctionModel(respond, model_name="gpt-4o")


def test_manifest_costs_per_stage_agent_model_and_call_and_replay_reproduces_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, corpus_dir: Path
) -> None:
    model = _priced_scripted(ScriptedModel())
    monkeypatch.setattr(
        resolve_module, "resolve_model", lambda spec, base_url, replay=False, retry=None: ResolvedModel(model, "gpt-4o")
    )
    out = tmp_path / "run"
    app_args = ["agent", "run", str(corpus_dir / "tau2_retail_policy.md"), "--out", str(out), "--max-examples", "2"]
    first = runner.invoke(cli.app, app_args)
    assert first.exit_code == 0, first.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    stages = {name: stage["usage"]["cost_usd"] for name, stage in manifest["stages"].items()}
    assert all(cost > 0 for cost in stages.values()), stages
    total = manifest["usage_by_model"]["openai:gpt-4o"]
    assert total["unpriced_requests"] == 0
    assert total["cost_usd"] == pytest.approx(sum(stages.values()))
    assert total["cost_usd"] == pytest.approx(sum(a["cost_usd"] for a in manifest["usage_by_agent"].values()))
    assert total["cost_usd"] == pytest.approx(sum(c["cost_usd"] for c in manifest["calls"]))
    assert sorted(manifest["usage_by_agent"]) == [
        "designer",
        "example_writer",
        "extraction",
        "supervisor",
        "use_cases",
    ]
    assert manifest["pricing"]["source"] == "genai-prices"
    assert manifest["volatile"]["calls"]["live"]["cost_usd"] == total["cost_usd"]  # all live: all spent now
    assert f"cost     {usd(Decimal(str(total['cost_usd'])))} at list price" in first.stdout
    assert "spent this run" in first.stdout

    # Replay: the dataset's cost is the same, the money spent this time is nothing.
    replayed = runner.invoke(cli.app, [*app_args, "--replay"])
    assert replayed.exit_code == 0, replayed.stderr
    again = json.loads((out / "manifest.json").read_text())
    assert again == manifest | {"volatile": again["volatile"]}  # everything outside `volatile` is reproduced
    assert again["volatile"]["calls"]["live"] == {
        "requests": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0, "unpriced_requests": 0
    }  # fmt: skip
    assert again["volatile"]["calls"]["replayed"] == manifest["volatile"]["calls"]["live"]
    assert "spent this run $0.00 on 0 live call(s)" in replayed.stdout


def test_an_unpriced_run_says_so(tmp_path: Path, use_model, corpus_dir: Path) -> None:
    use_model(ScriptedModel())
    out = tmp_path / "run"
    result = runner.invoke(cli.app, ["agent", "run", str(corpus_dir / "tau2_retail_policy.md"), "--out", str(out),
                                     "--max-examples", "1"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["usage_by_model"]["scripted"]["cost_usd"] is None
    assert all(call["cost_usd"] is None for call in manifest["calls"])
    cost = [line.replace(PRICES_VERSION, "<version>") for line in result.stdout.splitlines() if line.startswith("cost")]
    assert cost == snapshot(
        ["cost     unpriced: no known price for scripted (genai-prices <version>); 8 live call(s) this run"]
    )
    assert "$0.00" not in "\n".join(line for line in result.stdout.splitlines() if line.startswith("extract"))
