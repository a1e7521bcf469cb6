"""calls.jsonl: every exchange recorded, replayed on re-run, resumed after a crash, checked on read."""

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthgen.evals.scripted import ScriptedModel
from synthgen.orchestrator.cli.app import app

runner = CliRunner()
DATA_FILES = ["use_cases.json", "policies.json", "decisions.json", "test_cases.json", "dataset.jsonl"]

KEY_SCRIPT = """
from pydantic_ai.messages import ModelRequest, ModelResponse, ToolCallPart, ToolReturnPart, UserPromptPart
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.tools import ToolDefinition
from synthgen.orchestrator.llm.recording import request_key
messages = [
    ModelRequest(parts=[UserPromptPart("Lines 1-3 of policy.md")], instructions="Extract the rules."),
    ModelResponse(parts=[ToolCallPart("lookup_lines", {"start": 1, "end": 2})]),
    ModelRequest(parts=[ToolReturnPart("lookup_lines", "1 | # Rules", tool_call_id=ToolCallPart("x").tool_call_id)]),
]
tool = ToolDefinition(name="final_result", parameters_json_schema={"type": "object", "properties": {"a": {"type": "integer"}}})
print(request_key("gpt-4o", messages, {"temperature": 0, "seed": 42}, ModelRequestParameters(output_tools=[tool])))
"""


def test_request_key_is_identical_across_processes() -> None:
    keys = [
        subprocess.run([sys.executable, "-c", KEY_SCRIPT], capture_output=True, text=True, check=True).stdout
        for _ in range(2)
    ]
    assert keys[0] == keys[1]
    assert len(keys[0].strip()) == 64


def _run(doc: Path, out: Path, *extra: str):
    return runner.invoke(app, ["agent", "run", str(doc), "--out", str(out), "--max-examples", "4", *extra])


@pytest.fixture
def finished_run(corpus_dir: Path, tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]) -> Path:
    use_model(ScriptedModel())
    out = tmp_path / "run"
    result = _run(corpus_dir / "tau2_retail_policy.md", out)
    assert result.exit_code == 0, result.stderr
    return out


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "calls.jsonl").read_text().splitlines()]


def test_every_call_is_recorded_with_stage_item_and_usage(finished_run: Path) -> None:
    records = _records(finished_run)
    manifest = json.loads((finished_run / "manifest.json").read_text())
    # 4 extraction batches, the use cases, the test design, 4 examples, 1 review
    assert len(records) == manifest["volatile"]["calls"]["live"]["requests"] == 11
    assert [r["stage"] for r in records].count("write") == 4
    assert all(r["usage"]["input_tokens"] > 0 for r in records)
    assert any(r["item"].startswith("example for test case tc_") for r in records)


def test_rerun_replays_everything_and_rewrites_identical_files(
    corpus_dir: Path, finished_run: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    before = {name: (finished_run / name).read_bytes() for name in DATA_FILES}
    manifest_before = json.loads((finished_run / "manifest.json").read_text())
    scripted = use_model(ScriptedModel())
    result = _run(corpus_dir / "tau2_retail_policy.md", finished_run)
    assert result.exit_code == 0, result.stderr
    assert scripted.requests == []  # not one request reached the model
    assert {name: (finished_run / name).read_bytes() for name in DATA_FILES} == before
    manifest = json.loads((finished_run / "manifest.json").read_text())
    calls = manifest["volatile"]["calls"]
    assert calls["live"]["requests"] == 0
    assert calls["replayed"] == manifest_before["volatile"]["calls"]["live"]
    # Everything outside `volatile` is reproducible, tokens included.
    assert {k: v for k, v in manifest.items() if k != "volatile"} == {
        k: v for k, v in manifest_before.items() if k != "volatile"
    }


def test_resume_sends_only_the_missing_calls(
    corpus_dir: Path, finished_run: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    dataset = (finished_run / "dataset.jsonl").read_bytes()
    lines = (finished_run / "calls.jsonl").read_bytes().splitlines(keepends=True)
    # As if the run had died during example writing: two answers recorded, the rest never came.
    kept = [line for line in lines if json.loads(line)["stage"] in ("extract", "design")]
    kept += [line for line in lines if json.loads(line)["stage"] == "write"][:2]
    (finished_run / "calls.jsonl").write_bytes(b"".join(kept))
    for name in [*DATA_FILES, "manifest.json"]:
        (finished_run / name).unlink()
    scripted = use_model(ScriptedModel())
    result = _run(corpus_dir / "tau2_retail_policy.md", finished_run)
    assert result.exit_code == 0, result.stderr
    assert scripted.requests == ["example_writer", "example_writer", "supervisor"]
    assert (finished_run / "dataset.jsonl").read_bytes() == dataset


def test_replay_uses_only_recorded_calls(
    corpus_dir: Path, finished_run: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    scripted = use_model(ScriptedModel())
    dataset = (finished_run / "dataset.jsonl").read_bytes()
    result = _run(corpus_dir / "tau2_retail_policy.md", finished_run, "--replay")
    assert result.exit_code == 0, result.stderr
    assert scripted.requests == []
    assert (finished_run / "dataset.jsonl").read_bytes() == dataset


def test_replay_miss_names_the_stage_and_item(
    corpus_dir: Path, finished_run: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    records = _records(finished_run)
    missing = next(r for r in records if r["stage"] == "write")
    (finished_run / "calls.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records if r is not missing))
    scripted = use_model(ScriptedModel())
    result = _run(corpus_dir / "tau2_retail_policy.md", finished_run, "--replay")
    assert result.exit_code == 1
    assert scripted.requests == []
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(f"synthgen: error: --replay: no recorded answer for write stage, {missing['item']} (")
    )


def test_a_replay_needs_no_api_key(corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = _run(corpus_dir / "tau2_retail_policy.md", tmp_path / "empty", "--replay")
    assert result.exit_code == 1
    assert "--replay: no recorded answer for extract stage, extraction of" in result.stderr


def test_damaged_records_are_reported_by_line_and_never_replayed(
    corpus_dir: Path, finished_run: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    lines = (finished_run / "calls.jsonl").read_text().splitlines(keepends=True)
    write_lines = [n for n, line in enumerate(lines) if json.loads(line)["stage"] == "write"]
    broken, edited = write_lines[0], write_lines[1]
    lines[broken] = lines[broken][:40] + "\n"  # bad JSON in the middle of the file
    record = json.loads(lines[edited])
    record["response"]["parts"][0]["args"] = {"messages": []}  # a hand-edited answer
    lines[edited] = json.dumps(record) + "\n"
    lines.append('{"key": "torn')  # a crash while writing the last record
    (finished_run / "calls.jsonl").write_text("".join(lines))
    dataset = (finished_run / "dataset.jsonl").read_bytes()

    scripted = use_model(ScriptedModel())
    result = _run(corpus_dir / "tau2_retail_policy.md", finished_run)
    assert result.exit_code == 0, result.stderr
    assert f"calls.jsonl line {broken + 1}: not valid JSON; ignoring that record" in result.stderr
    assert f"calls.jsonl line {edited + 1}: checksum does not match (edited by hand?)" in result.stderr
    assert scripted.requests == ["example_writer", "example_writer"]  # asked again, not replayed
    assert (finished_run / "dataset.jsonl").read_bytes() == dataset
    assert (finished_run / "calls.jsonl").read_text().endswith("\n")  # the torn tail was cut off


def test_two_runs_cannot_share_a_directory(finished_run: Path) -> None:
    import fcntl

    from synthgen.errors import RunDirectoryError
    from synthgen.orchestrator.rundir.directory import RunDirectory
    from synthgen.schemas.manifest import RunBinding

    binding = RunBinding.model_validate_json((finished_run / "run.json").read_bytes())
    with (finished_run / "run.json").open("rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(RunDirectoryError, match="another synthgen run is using"):
            RunDirectory(finished_run, binding)
