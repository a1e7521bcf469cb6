"""End to end through the CLI, with a scripted model standing in for the LLM."""

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from inline_snapshot import snapshot
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo
from typer.testing import CliRunner

from synthgen.evals.scripted import ScriptedModel
from synthgen.orchestrator.cli.app import app

OUTPUTS = ["use_cases.json", "policies.json", "test_cases.json", "dataset.jsonl", "manifest.json"]
RUN_FILES = [*OUTPUTS, "run.json", "calls.jsonl", "trace.jsonl"]
runner = CliRunner()


def run_cli(*args: str | Path):
    return runner.invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("name", ["tau2_retail_policy.md", "github_acceptable_use.md"])
def test_run_writes_a_dataset_that_validates(
    name: str, corpus_dir: Path, tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    scripted = use_model(ScriptedModel())
    out = tmp_path / "run"
    result = run_cli("agent", "run", corpus_dir / name, "--out", out, "--max-examples", "6")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(RUN_FILES)
    examples = [json.loads(line) for line in (out / "dataset.jsonl").read_text().splitlines()]
    assert len(examples) == 6
    assert all(e["evaluation_criteria"] and e["messages"][-1]["role"] == "user" for e in examples)
    assert "dataset  6 examples from 1 document(s)" in result.stdout
    assert scripted.requests.count("example_writer") == 6
    validated = run_cli("validate", out)
    assert validated.exit_code == 0, validated.stderr
    assert validated.stdout.strip() == f"{out}: valid"


def test_ids_and_outputs_are_stable_across_runs(
    corpus_dir: Path, tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    use_model(ScriptedModel())
    doc = corpus_dir / "tau2_retail_policy.md"
    for name in ("a", "b"):
        assert run_cli("agent", "run", doc, "--out", tmp_path / name, "--max-examples", "4").exit_code == 0
    for output in OUTPUTS[:-1]:
        assert (tmp_path / "a" / output).read_bytes() == (tmp_path / "b" / output).read_bytes(), output


def test_manifest(
    corpus_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    use_model: Callable[[ScriptedModel], ScriptedModel],
) -> None:
    use_model(ScriptedModel())
    monkeypatch.chdir(corpus_dir)  # the manifest records the path as given
    out = tmp_path / "run"
    assert run_cli("agent", "run", "tau2_retail_policy.md", "--out", out, "--max-examples", "3").exit_code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    volatile = manifest.pop("volatile")
    assert set(volatile) == {"started_at", "finished_at", "stage_seconds", "calls", "max_cost_usd"}
    assert volatile["calls"]["live"]["requests"] == 6 and volatile["calls"]["replayed"]["requests"] == 0
    assert set(volatile["stage_seconds"]) == {"extract", "design", "write", "supervise"}
    manifest["tool_version"] = "<installed version>" if manifest["tool_version"] else ""
    manifest["prompts"] = [(p["name"], p["version"]) for p in manifest["prompts"]]
    manifest["outputs"] = [(o["name"], o["records"]) for o in manifest["outputs"]]
    # Request hashes and item wording change with every prompt edit: checked, then left out.
    assert all(len(c.pop("key")) == 64 and c.pop("item") for c in manifest["calls"])
    manifest["pricing"]["version"] = "<genai-prices version>"
    # Where it ran from, so the run checks from anywhere: checked, then left out.
    assert manifest["inputs"][0].pop("absolute_path") == str(Path.cwd() / "tau2_retail_policy.md")
    assert len(manifest["lineage"]) == 3
    manifest["lineage"] = manifest["lineage"][0]
    assert manifest == snapshot(
        {
            "schema_version": 1,
            "run_id": "tau2-retail-policy-99068bc2",
            "tool_version": "<installed version>",
            "inputs": [
                {
                    "id": "doc_2c9652afbce5",
                    "path": "tau2_retail_policy.md",
                    "sha256": "2c9652afbce57d6e087768d37cda64d31c53d50b3e3225cfdb791bac66466467",
                    "encoding": "utf-8",
                    "line_ending": "lf",
                    "lines": 136,
                }
            ],
            "config": {
                "model": "function:scripted",
                "base_url": None,
                "demo_quality": False,
                "seed": 42,
                "temperature": 0.0,
                "max_examples": 3,
                "concurrency": 4,
                "max_revisions": 2,
                "window_tokens": 3000,
                "strength": 2,
            },
            "prompts": [("example_writer", 1), ("extraction", 2), ("supervisor", 1), ("test_design", 2)],
            "stages": {
                "extract": {
                    "requested": 33,
                    "accepted": 32,
                    "rejected": 1,
                    "reasons": {"duplicate_policy": 1},
                    "notes": {},
                    "usage": {
                        "requests": 1,
                        "input_tokens": 1934,
                        "output_tokens": 3129,
                        "cost_usd": None,
                        "unpriced_requests": 1,
                    },
                },
                "design": {
                    "requested": 36,
                    "accepted": 3,
                    "rejected": 33,
                    "reasons": {"over_max_examples": 33},
                    "notes": {},
                    "usage": {
                        "requests": 1,
                        "input_tokens": 1281,
                        "output_tokens": 176,
                        "cost_usd": None,
                        "unpriced_requests": 1,
                    },
                },
                "write": {
                    "requested": 3,
                    "accepted": 3,
                    "rejected": 0,
                    "reasons": {},
                    "notes": {},
                    "usage": {
                        "requests": 3,
                        "input_tokens": 1575,
                        "output_tokens": 1569,
                        "cost_usd": None,
                        "unpriced_requests": 3,
                    },
                },
                "supervise": {
                    "requested": 3,
                    "accepted": 3,
                    "rejected": 0,
                    "reasons": {},
                    "notes": {},
                    "usage": {
                        "requests": 1,
                        "input_tokens": 1900,
                        "output_tokens": 71,
                        "cost_usd": None,
                        "unpriced_requests": 1,
                    },
                },
            },
            "usage_by_model": {
                "scripted": {
                    "requests": 6,
                    "input_tokens": 6690,
                    "output_tokens": 4945,
                    "cost_usd": None,
                    "unpriced_requests": 6,
                }
            },
            "usage_by_agent": {
                "example_writer": {
                    "requests": 3,
                    "input_tokens": 1575,
                    "output_tokens": 1569,
                    "cost_usd": None,
                    "unpriced_requests": 3,
                },
                "extraction": {
                    "requests": 1,
                    "input_tokens": 1934,
                    "output_tokens": 3129,
                    "cost_usd": None,
                    "unpriced_requests": 1,
                },
                "supervisor": {
                    "requests": 1,
                    "input_tokens": 1900,
                    "output_tokens": 71,
                    "cost_usd": None,
                    "unpriced_requests": 1,
                },
                "test_design": {
                    "requests": 1,
                    "input_tokens": 1281,
                    "output_tokens": 176,
                    "cost_usd": None,
                    "unpriced_requests": 1,
                },
            },
            "calls": [
                {
                    "stage": "extract",
                    "agent": "extraction",
                    "model": "scripted",
                    "input_tokens": 1934,
                    "output_tokens": 3129,
                    "cost_usd": None,
                },
                {
                    "stage": "design",
                    "agent": "test_design",
                    "model": "scripted",
                    "input_tokens": 1281,
                    "output_tokens": 176,
                    "cost_usd": None,
                },
                {
                    "stage": "write",
                    "agent": "example_writer",
                    "model": "scripted",
                    "input_tokens": 560,
                    "output_tokens": 556,
                    "cost_usd": None,
                },
                {
                    "stage": "write",
                    "agent": "example_writer",
                    "model": "scripted",
                    "input_tokens": 611,
                    "output_tokens": 604,
                    "cost_usd": None,
                },
                {
                    "stage": "write",
                    "agent": "example_writer",
                    "model": "scripted",
                    "input_tokens": 404,
                    "output_tokens": 409,
                    "cost_usd": None,
                },
                {
                    "stage": "supervise",
                    "agent": "supervisor",
                    "model": "scripted",
                    "input_tokens": 1900,
                    "output_tokens": 71,
                    "cost_usd": None,
                },
            ],
            "pricing": {"source": "genai-prices", "version": "<genai-prices version>"},
            "coverage": [
                {
                    "document_id": "doc_2c9652afbce5",
                    "strength": 2,
                    "axes": [
                        {
                            "name": "use_case",
                            "values": [
                                "uc_a8216120c9",
                                "uc_6b7f0311cf",
                                "uc_7b3b5b100c",
                                "uc_fd15716aa8",
                                "uc_782af1a5c6",
                                "uc_93ce93a106",
                                "uc_b4a6e92ea5",
                                "uc_8221039437",
                                "uc_ae9bf25cfb",
                                "uc_ad034c172e",
                                "uc_47ff547ba8",
                                "uc_f2b8e5161d",
                            ],
                        },
                        {"name": "customer_mood", "values": ["calm", "frustrated"]},
                        {
                            "name": "request_detail",
                            "values": ["complete details", "missing details", "contradictory details"],
                        },
                    ],
                    "rows": 36,
                    "full_product": 72,
                    "interactions_total": 66,
                    "interactions_covered": 66,
                }
            ],
            "outputs": [("use_cases.json", 12), ("policies.json", 20), ("test_cases.json", 3), ("dataset.jsonl", 3)],
            "lineage": {
                "example_id": "ex_3c49a0c262",
                "test_case_id": "tc_3c49a0c262",
                "use_case_id": "uc_a8216120c9",
                "document_id": "doc_2c9652afbce5",
                "policy_ids": ["pol_3a39150b60", "pol_8c7a0ddb3a", "pol_ed84e4fcc2"],
                "lines": [
                    {"policy_id": "pol_3a39150b60", "line_start": 16, "line_end": 16},
                    {"policy_id": "pol_8c7a0ddb3a", "line_start": 18, "line_end": 18},
                    {"policy_id": "pol_ed84e4fcc2", "line_start": 14, "line_end": 14},
                ],
            },
        }
    )


def _inventing(scripted: ScriptedModel, invented: str) -> Callable[[list[ModelMessage], AgentInfo], ModelResponse]:
    """Each agent's first answer cites an invented quote; the retry gets the scripted answer."""
    answered: set[str] = set()

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        response = scripted.respond(messages, info)
        agent = scripted.requests[-1]
        if agent in answered or agent not in ("extraction", "example_writer"):
            return response
        answered.add(agent)
        call = response.parts[0]
        assert isinstance(call, ToolCallPart)
        args = dict(call.args_as_dict())
        fake = {"line_start": 3, "line_end": 3, "quote": invented}
        if agent == "extraction":
            args["policies"] = [
                *args["policies"],
                {"statement": invented, "kind": "obligation", "conditions": [], "applies_to": [], "evidence": [fake]},
            ]
        else:
            first = dict(args["evaluation_criteria"][0])
            args["evaluation_criteria"] = [{**first, "evidence": [fake]}, *args["evaluation_criteria"][1:]]
        return ModelResponse(parts=[ToolCallPart(call.tool_name, args)], model_name="scripted")

    return respond


def test_an_invented_quote_never_reaches_any_output(
    corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pydantic_ai.models.function import FunctionModel

    from synthgen.orchestrator.cli import app as cli
    from synthgen.orchestrator.llm.resolve import ResolvedModel

    invented = "Agents must always offer a free gift card to upset customers."
    scripted = ScriptedModel()
    model = FunctionModel(_inventing(scripted, invented), model_name="scripted")
    monkeypatch.setattr(
        cli, "resolve_model", lambda spec, base_url, replay=False: ResolvedModel(model, "function:scripted")
    )
    out = tmp_path / "run"
    result = run_cli("agent", "run", corpus_dir / "tau2_retail_policy.md", "--out", out, "--max-examples", "3")
    assert result.exit_code == 0, result.stderr
    # Both agents were told about the bad quote and answered again.
    assert scripted.requests.count("extraction") == 2
    assert scripted.requests.count("example_writer") == 4
    for name in OUTPUTS:  # calls.jsonl keeps the raw answers on purpose: it is the record of what was said
        assert "free gift card" not in (out / name).read_text(), name
    assert "free gift card" in (out / "calls.jsonl").read_text()


def test_a_document_without_headings_works(tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]) -> None:
    use_model(ScriptedModel())
    doc = tmp_path / "rules.md"
    doc.write_text(
        "Support agents must verify the customer's email before any refund.\n"
        "Agents must not share order details with anyone but the account holder.\n"
        "Refunds over $100 require a manager's approval.\n"
    )
    out = tmp_path / "run"
    result = run_cli("agent", "run", doc, "--out", out)
    assert result.exit_code == 0, result.stderr
    assert run_cli("validate", out).exit_code == 0
