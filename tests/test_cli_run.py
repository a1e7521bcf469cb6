"""End to end through the CLI, with a scripted model standing in for the LLM."""

import json
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from dirty_equals import IsFloat, IsList, IsNow, IsPositiveInt, IsStr
from inline_snapshot import snapshot
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo
from typer.testing import CliRunner

from synthgen.orchestrator.cli.app import app
from synthgen.testing.scripted import ScriptedModel

OUTPUTS = [
    "use_cases.json", "policies.json", "decisions.json", "test_cases.json", "dataset.jsonl", "manifest.json"
]  # fmt: skip
RUN_FILES = [*OUTPUTS, "run.json", "calls.jsonl", "trace.jsonl", "report.html", "dbos.sqlite"]
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


@pytest.fixture
def manifest(
    corpus_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    use_model: Callable[[ScriptedModel], ScriptedModel],
) -> dict[str, Any]:
    use_model(ScriptedModel())
    monkeypatch.chdir(corpus_dir)  # the manifest records the path as given
    out = tmp_path / "run"
    assert run_cli("agent", "run", "tau2_retail_policy.md", "--out", out, "--max-examples", "3").exit_code == 0
    return json.loads((out / "manifest.json").read_text())


SHA256 = IsStr(regex=r"[0-9a-f]{64}")
SCRIPTED_USAGE = {"input_tokens": IsPositiveInt, "output_tokens": IsPositiveInt, "cost_usd": None}


def test_manifest_records_inputs_and_config(manifest: dict[str, Any]) -> None:
    assert list(manifest) == snapshot(
        ["schema_version", "run_id", "tool_version", "inputs", "config", "prompts", "stages", "usage_by_model",
         "usage_by_agent", "calls", "pricing", "coverage", 'rule_coverage', 'contrast_pairs', "outputs", "lineage", "volatile"]
    )  # fmt: skip
    assert {k: manifest[k] for k in ("schema_version", "run_id", "tool_version", "inputs", "config")} == snapshot(
        {
            "schema_version": 1,
            "run_id": "tau2-retail-policy-2438290f",
            "tool_version": IsStr(min_length=1),
            "inputs": [
                {
                    "id": "doc_2c9652afbce5",
                    "path": "tau2_retail_policy.md",
                    "absolute_path": IsStr(regex=r"/.+/corpus/tau2_retail_policy\.md"),  # so it checks from anywhere
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
        }
    )
    assert manifest["prompts"] == snapshot(
        [
            {"name": "designer", "version": 3, "sha256": SHA256},
            {"name": "example_writer", "version": 4, "sha256": SHA256},
            {"name": "extraction", "version": 3, "sha256": SHA256},
            {"name": "supervisor", "version": 2, "sha256": SHA256},
            {"name": "use_cases", "version": 1, "sha256": SHA256},
        ]
    )
    assert manifest["pricing"] == {"source": "genai-prices", "version": IsStr(min_length=1)}


def test_manifest_counts_every_stage_with_reasons(manifest: dict[str, Any]) -> None:
    counts = {
        name: (s["requested"], s["accepted"], s["rejected"], s["reasons"]) for name, s in manifest["stages"].items()
    }
    assert counts == snapshot(
        {
            "extract": (89, 31, 58, {"not_a_rule_description": 55, "duplicate_policy": 3}),
            "design": (68, 3, 65, {"over_max_examples": 65}),
            "write": (3, 3, 0, {}),
            "supervise": (3, 3, 0, {}),
        }
    )
    assert all(s["requested"] == s["accepted"] + s["rejected"] == s["accepted"] + sum(s["reasons"].values())
               for s in manifest["stages"].values())  # fmt: skip


def test_manifest_usage_adds_up_per_stage_agent_model_and_call(manifest: dict[str, Any]) -> None:
    calls = manifest["calls"]
    assert [(c["stage"], c["agent"]) for c in calls] == snapshot(
        [
            ("extract", "extraction"),
            ("extract", "extraction"),
            ("extract", "extraction"),
            ("extract", "extraction"),
            ("extract", "use_cases"),
            ("design", "designer"),
            ("write", "example_writer"),
            ("write", "example_writer"),
            ("write", "example_writer"),
            ("supervise", "supervisor"),
        ]
    )
    call = {"key": SHA256, "stage": IsStr, "item": IsStr(min_length=1), "agent": IsStr, "model": "scripted"}
    assert all(c == call | SCRIPTED_USAGE for c in calls)
    tokens = {
        "input_tokens": sum(c["input_tokens"] for c in calls),
        "output_tokens": sum(c["output_tokens"] for c in calls),
    }
    unpriced = {"requests": 10, **tokens, "cost_usd": None, "unpriced_requests": 10}
    assert manifest["usage_by_model"] == {"scripted": unpriced}
    assert manifest["volatile"]["calls"]["live"] == unpriced
    for group, key in (("stages", "stage"), ("usage_by_agent", "agent")):
        by = manifest[group]
        for name, value in by.items():
            usage = value["usage"] if group == "stages" else value
            mine = [c for c in calls if c[key] == name]
            assert usage == {"requests": len(mine), "input_tokens": sum(c["input_tokens"] for c in mine),
                             "output_tokens": sum(c["output_tokens"] for c in mine), "cost_usd": None,
                             "unpriced_requests": len(mine)}  # fmt: skip


def test_manifest_coverage_outputs_and_lineage(manifest: dict[str, Any]) -> None:
    coverage = manifest["coverage"][0]
    assert coverage == snapshot(
        {
            "document_id": "doc_2c9652afbce5",
            "strength": 2,
            "axes": [
                {"name": "condition_of_rule_2", "values": IsList(length=2)},
                {"name": "condition_of_rule_4", "values": ["if you take a tool call", "not if you take a tool call"]},
                {
                    "name": "condition_of_rule_5",
                    "values": ["If you respond to the user", "not If you respond to the user"],
                },
            ],
            "test_cases_designed": 68,
            "examples_written": 3,
            "interactions_total": 96,
            "interactions_covered": 3,
            "rules": 23,
            "rules_covered": 5,
            "contrast_rules": 2,
            "contrast_pairs_written": 0,
        }
    )
    # Every rule: the written examples it decides, or why there is none (here: --max-examples 3).
    rules = manifest["rule_coverage"]
    assert len(rules) == coverage["rules"] == 23
    assert sum(1 for r in rules if r["examples"]) == coverage["rules_covered"]
    assert {r["uncovered"] for r in rules if not r["examples"]} == {"budget"}
    assert manifest["outputs"] == snapshot(
        [
            {
                "name": "use_cases.json",
                "sha256": "b815ca9a46c8260d9b24c612c5b7907affaa112811b87682f0ad432c6b47abfa",
                "records": 8,
            },
            {
                "name": "policies.json",
                "sha256": "557b7642a8e86c35fca6692f6769aa610e7ea0e9cc671b536aaddba556f036fc",
                "records": 23,
            },
            {
                "name": "decisions.json",
                "sha256": "6589eccd5fbcb27bcf3911468c83c0116af4a3c39750131ec28542baefa384d9",
                "records": 81,
            },
            {"name": "test_cases.json", "sha256": SHA256, "records": 3},
            {"name": "dataset.jsonl", "sha256": SHA256, "records": 3},
        ]
    )
    assert len(manifest["lineage"]) == 3
    assert manifest["lineage"][0] == snapshot(
        {
            "example_id": "ex_54f5d65d7b",
            "test_case_id": "tc_54f5d65d7b",
            "use_case_id": "uc_39630c7cee",
            "document_id": "doc_2c9652afbce5",
            "policy_ids": ["pol_3a39150b60", "pol_c7fad6a2c3", "pol_64a8d351d4"],
            "lines": [
                {"policy_id": "pol_3a39150b60", "line_start": 16, "line_end": 16},
                {"policy_id": "pol_c7fad6a2c3", "line_start": 20, "line_end": 20},
                {"policy_id": "pol_64a8d351d4", "line_start": 20, "line_end": 20},
            ],
        }
    )


def test_manifest_keeps_what_varies_under_volatile(manifest: dict[str, Any]) -> None:
    assert manifest["volatile"] == snapshot(
        {
            "started_at": IsNow(iso_string=True, tz=UTC, delta=600),
            "finished_at": IsNow(iso_string=True, tz=UTC, delta=600),
            "stage_seconds": {
                "extract": IsFloat(ge=0),
                "design": IsFloat(ge=0),
                "write": IsFloat(ge=0),
                "supervise": IsFloat(ge=0),
            },
            "calls": {
                "live": {
                    "requests": 10,
                    "input_tokens": IsPositiveInt,
                    "output_tokens": IsPositiveInt,
                    "cost_usd": None,
                    "unpriced_requests": 10,
                },
                "replayed": {
                    "requests": 0,
                    "input_tokens": 0,
                    "output_tokens": 0,
                    "cost_usd": 0.0,
                    "unpriced_requests": 0,
                },
            },
            "max_cost_usd": None,
        }
    )


def _inventing(scripted: ScriptedModel, invented: str) -> Callable[[list[ModelMessage], AgentInfo], ModelResponse]:
    """The writer's first answer adds a criterion with an invented quote, the extraction's first answer states
    an invented rule for its first candidate; each retry gets the scripted answer."""
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
            first = dict(args["extra_criteria"][0])
            args["extra_criteria"] = [{**first, "evidence": [fake]}, *args["extra_criteria"][1:]]
        return ModelResponse(parts=[ToolCallPart(call.tool_name, args)], model_name="scripted")

    return respond


def test_an_invented_quote_never_reaches_any_output(
    corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pydantic_ai.models.function import FunctionModel

    from synthgen.orchestrator.llm import resolve as resolve_module
    from synthgen.orchestrator.llm.resolve import ResolvedModel

    invented = "Agents must always offer a free gift card to upset customers."
    scripted = ScriptedModel()
    model = FunctionModel(_inventing(scripted, invented), model_name="scripted")
    monkeypatch.setattr(
        resolve_module,
        "resolve_model",
        lambda spec, base_url, replay=False, retry=None: ResolvedModel(model, "function:scripted"),
    )
    out = tmp_path / "run"
    result = run_cli("agent", "run", corpus_dir / "tau2_retail_policy.md", "--out", out, "--max-examples", "3")
    assert result.exit_code == 0, result.stderr
    # Neither answer was sent back: the invented statement fell back to its candidate's own words, the
    # writer's criterion with the invented quote was optional: dropped. Both counted.
    assert scripted.requests.count("extraction") == _extraction_batches(out)
    assert json.loads((out / "manifest.json").read_text())["stages"]["extract"]["notes"]["statement_invented"] == 1
    assert scripted.requests.count("example_writer") == 3
    assert json.loads((out / "manifest.json").read_text())["stages"]["write"]["notes"]["writer_criterion_dropped"] == 1
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


def test_rules_without_conditions_get_a_test_case_each_with_the_outcome_their_kind_gives(
    tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    use_model(ScriptedModel())
    doc = tmp_path / "rules.md"
    doc.write_text("# Support rules\n\nAgents must greet the customer by name.\nAgents must not share passwords.\n")
    out = tmp_path / "run"
    result = run_cli("agent", "run", doc, "--out", out)
    assert result.exit_code == 0, result.stderr
    test_cases = json.loads((out / "test_cases.json").read_text())
    assert [(tc["axis_values"], len(tc["deciding_rules"]), tc["expected_outcome"]) for tc in test_cases] == [
        ({}, 1, "comply"),
        ({}, 1, "refuse"),
    ]
    examples = [json.loads(line) for line in (out / "dataset.jsonl").read_text().splitlines()]
    assert [e["evaluation_criteria"][0]["source"] for e in examples] == ["rule", "rule"]


def test_a_budget_below_the_rules_says_how_many_stay_uncovered(
    corpus_dir: Path, tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    use_model(ScriptedModel())
    out = tmp_path / "run"
    result = run_cli("agent", "run", corpus_dir / "tau2_retail_policy.md", "--out", out, "--max-examples", "2")
    assert result.exit_code == 0, result.stderr
    rules = json.loads((out / "manifest.json").read_text())["rule_coverage"]
    left = sum(1 for rule in rules if rule["uncovered"] == "budget")
    (line,) = [line for line in result.stderr.splitlines() if "--max-examples 2 leaves" in line]
    assert (
        line
        == f"synthgen: --max-examples 2 leaves {left} of {len(rules)} rules without a test case; raise it to cover them all"
    )
