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

OUTPUTS = [
    "use_cases.json", "policies.json", "decisions.json", "test_cases.json", "dataset.jsonl", "manifest.json"
]  # fmt: skip
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
    assert volatile["calls"]["live"]["requests"] == 10 and volatile["calls"]["replayed"]["requests"] == 0
    assert set(volatile["stage_seconds"]) == {"extract", "design", "write", "supervise"}
    manifest["tool_version"] = "<installed version>" if manifest["tool_version"] else ""
    manifest["prompts"] = [(p["name"], p["version"]) for p in manifest["prompts"]]
    manifest["outputs"] = [(o["name"], o["records"]) for o in manifest["outputs"]]
    # Request hashes and item wording change with every prompt edit: checked, then left out.
    assert all(len(c.pop("key")) == 64 and c.pop("item") for c in manifest["calls"])
    manifest["pricing"]["version"] = "<genai-prices version>"
    assert len(manifest["lineage"]) == 3
    manifest["lineage"] = manifest["lineage"][0]
    assert manifest == snapshot(
        {
            "schema_version": 1,
            "run_id": "tau2-retail-policy-2438290f",
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
                "window_tokens": 1500,
                "strength": 2,
            },
            "prompts": [
                ("example_writer", 1),
                ("extraction", 3),
                ("supervisor", 1),
                ("test_design", 2),
                ("use_cases", 1),
            ],
            "stages": {
                "extract": {
                    "requested": 91,
                    "accepted": 32,
                    "rejected": 59,
                    "reasons": {"not_a_rule_description": 56, "duplicate_policy": 3},
                    "notes": {},
                    "usage": {
                        "requests": 5,
                        "input_tokens": 2218,
                        "output_tokens": 2129,
                        "cost_usd": None,
                        "unpriced_requests": 5,
                    },
                },
                "design": {
                    "requested": 27,
                    "accepted": 3,
                    "rejected": 24,
                    "reasons": {"over_max_examples": 24},
                    "notes": {},
                    "usage": {
                        "requests": 1,
                        "input_tokens": 1074,
                        "output_tokens": 190,
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
                        "input_tokens": 1144,
                        "output_tokens": 1065,
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
                        "input_tokens": 1322,
                        "output_tokens": 71,
                        "cost_usd": None,
                        "unpriced_requests": 1,
                    },
                },
            },
            "usage_by_model": {
                "scripted": {
                    "requests": 10,
                    "input_tokens": 5758,
                    "output_tokens": 3455,
                    "cost_usd": None,
                    "unpriced_requests": 10,
                }
            },
            "usage_by_agent": {
                "example_writer": {
                    "requests": 3,
                    "input_tokens": 1144,
                    "output_tokens": 1065,
                    "cost_usd": None,
                    "unpriced_requests": 3,
                },
                "extraction": {
                    "requests": 4,
                    "input_tokens": 2064,
                    "output_tokens": 1915,
                    "cost_usd": None,
                    "unpriced_requests": 4,
                },
                "supervisor": {
                    "requests": 1,
                    "input_tokens": 1322,
                    "output_tokens": 71,
                    "cost_usd": None,
                    "unpriced_requests": 1,
                },
                "test_design": {
                    "requests": 1,
                    "input_tokens": 1074,
                    "output_tokens": 190,
                    "cost_usd": None,
                    "unpriced_requests": 1,
                },
                "use_cases": {
                    "requests": 1,
                    "input_tokens": 154,
                    "output_tokens": 214,
                    "cost_usd": None,
                    "unpriced_requests": 1,
                },
            },
            "calls": [
                {
                    "stage": "extract",
                    "agent": "extraction",
                    "model": "scripted",
                    "input_tokens": 466,
                    "output_tokens": 455,
                    "cost_usd": None,
                },
                {
                    "stage": "extract",
                    "agent": "extraction",
                    "model": "scripted",
                    "input_tokens": 364,
                    "output_tokens": 424,
                    "cost_usd": None,
                },
                {
                    "stage": "extract",
                    "agent": "extraction",
                    "model": "scripted",
                    "input_tokens": 554,
                    "output_tokens": 499,
                    "cost_usd": None,
                },
                {
                    "stage": "extract",
                    "agent": "extraction",
                    "model": "scripted",
                    "input_tokens": 680,
                    "output_tokens": 537,
                    "cost_usd": None,
                },
                {
                    "stage": "extract",
                    "agent": "use_cases",
                    "model": "scripted",
                    "input_tokens": 154,
                    "output_tokens": 214,
                    "cost_usd": None,
                },
                {
                    "stage": "design",
                    "agent": "test_design",
                    "model": "scripted",
                    "input_tokens": 1074,
                    "output_tokens": 190,
                    "cost_usd": None,
                },
                {
                    "stage": "write",
                    "agent": "example_writer",
                    "model": "scripted",
                    "input_tokens": 250,
                    "output_tokens": 205,
                    "cost_usd": None,
                },
                {
                    "stage": "write",
                    "agent": "example_writer",
                    "model": "scripted",
                    "input_tokens": 333,
                    "output_tokens": 304,
                    "cost_usd": None,
                },
                {
                    "stage": "write",
                    "agent": "example_writer",
                    "model": "scripted",
                    "input_tokens": 561,
                    "output_tokens": 556,
                    "cost_usd": None,
                },
                {
                    "stage": "supervise",
                    "agent": "supervisor",
                    "model": "scripted",
                    "input_tokens": 1322,
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
                                "uc_e7249635d7",
                                "uc_39630c7cee",
                                "uc_3c6aa01fa9",
                                "uc_c6a76dc994",
                                "uc_dced546810",
                                "uc_9555a6a172",
                                "uc_42b0c68b5e",
                                "uc_ea479313fd",
                                "uc_370b5e5476",
                            ],
                        },
                        {"name": "customer_mood", "values": ["calm", "frustrated"]},
                        {
                            "name": "request_detail",
                            "values": ["complete details", "missing details", "contradictory details"],
                        },
                    ],
                    "rows": 27,
                    "full_product": 54,
                    "interactions_total": 51,
                    "interactions_covered": 51,
                }
            ],
            "outputs": [
                ("use_cases.json", 9),
                ("policies.json", 23),
                ("decisions.json", 82),
                ("test_cases.json", 3),
                ("dataset.jsonl", 3),
            ],
            "lineage": {
                "example_id": "ex_e77ddf209b",
                "test_case_id": "tc_e77ddf209b",
                "use_case_id": "uc_e7249635d7",
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
    """The writer's first answer cites an invented quote, the extraction's first answer states an invented
    rule for its first candidate; each retry gets the scripted answer."""
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
            rule = {"kind": "obligation", "strength": "must", "statement": invented, "conditions": [], "binds": ""}
            first = {"n": 1, "is_rule": True, "reason": "rule", "rules": [rule]}
            args["decisions"] = [first, *args["decisions"][1:]]
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
        cli, "resolve_model", lambda spec, base_url, replay=False, retry=None: ResolvedModel(model, "function:scripted")
    )
    out = tmp_path / "run"
    result = run_cli("agent", "run", corpus_dir / "tau2_retail_policy.md", "--out", out, "--max-examples", "3")
    assert result.exit_code == 0, result.stderr
    # Both agents were told about the invention and answered again (the extraction: its first batch only).
    assert scripted.requests.count("extraction") == _extraction_batches(out) + 1
    assert scripted.requests.count("example_writer") == 4
    for name in OUTPUTS:  # calls.jsonl keeps the raw answers on purpose: it is the record of what was said
        assert "free gift card" not in (out / name).read_text(), name
    assert "free gift card" in (out / "calls.jsonl").read_text()


def _extraction_batches(out: Path) -> int:
    """The extraction calls a run made without retries: one per batch of candidates."""
    manifest = json.loads((out / "manifest.json").read_text())
    return len({c["item"] for c in manifest["calls"] if c["agent"] == "extraction"})


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
