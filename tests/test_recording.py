"""calls.jsonl: every exchange recorded, replayed on re-run, resumed after a crash, checked on read."""

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from synthgen.orchestrator.cli.app import app
from synthgen.schemas.calls import CallRecord
from synthgen.testing.scripted import ScriptedModel

runner = CliRunner()
DATA_FILES = ["use_cases.json", "policies.json", "decisions.json", "test_cases.json", "dataset.jsonl"]

KEY_SCRIPT = """
from pydantic_ai.messages import ModelRequest, ModelResponse, ToolCallPart, ToolReturnPart, UserPromptPart
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.tools import ToolDefinition
from synthgen.orchestrator.llm.recording import describe_request
messages = [
    ModelRequest(parts=[UserPromptPart("Lines 1-3 of policy.md")], instructions="Extract the rules."),
    ModelResponse(parts=[ToolCallPart("lookup_lines", {"start": 1, "end": 2})]),
    ModelRequest(parts=[ToolReturnPart("lookup_lines", "1 | # Rules", tool_call_id=ToolCallPart("x").tool_call_id)]),
]
tool = ToolDefinition(name="final_result", parameters_json_schema={"type": "object", "properties": {"a": {"type": "integer"}}})
print(describe_request("gpt-4o", messages, {"temperature": 0, "seed": 42}, ModelRequestParameters(output_tools=[tool]))[0])
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


def test_each_record_keeps_the_request_it_answered(finished_run: Path) -> None:
    records = [CallRecord.model_validate(r) for r in _records(finished_run)]
    assert all(r.request is not None for r in records)
    write = next(r for r in records if r.stage == "write")
    assert write.request is not None
    assert (write.request.output_schema, write.request.tools, write.request.settings) == (
        "ExampleDraft",
        ["lookup_lines"],
        {"seed": 42, "temperature": 0.0},
    )
    first = write.request.messages[0]
    assert first["instructions"].startswith("You write one example of an evaluation dataset")
    user = next(p for p in first["parts"] if p["part_kind"] == "user-prompt")
    test_case_id = write.item.removeprefix("example for test case ")
    test_case = next(t for t in json.loads((finished_run / "test_cases.json").read_text()) if t["id"] == test_case_id)
    assert f"Expected outcome: {test_case['expected_outcome']} (" in user["content"]
    assert all(f"{pid} [" in user["content"] for pid in test_case["policy_ids"])


def test_an_edited_request_is_not_trusted(
    corpus_dir: Path, finished_run: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    records = _records(finished_run)
    edited = next(i for i, r in enumerate(records) if r["stage"] == "write")
    records[edited]["request"]["messages"][0]["instructions"] = "Something else."
    (finished_run / "calls.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    scripted = use_model(ScriptedModel())
    result = _run(corpus_dir / "tau2_retail_policy.md", finished_run)
    assert result.exit_code == 0, result.stderr
    assert f"calls.jsonl line {edited + 1}: checksum does not match (edited by hand?)" in result.stderr
    assert scripted.requests == ["example_writer"]  # asked again; the trace will show what was really sent


def test_records_written_before_requests_were_kept_still_replay(
    corpus_dir: Path, finished_run: Path, use_model: Callable[[ScriptedModel], ScriptedModel]
) -> None:
    dataset = (finished_run / "dataset.jsonl").read_bytes()
    old = []
    for record in _records(finished_run):  # the format of the eval cassettes: no request, checksum of key + response
        del record["request"]
        response = orjson.dumps(record["response"], option=orjson.OPT_SORT_KEYS)
        record["checksum"] = hashlib.sha256(record["key"].encode() + response).hexdigest()
        old.append(json.dumps(record) + "\n")
    (finished_run / "calls.jsonl").write_text("".join(old))
    scripted = use_model(ScriptedModel())
    result = _run(corpus_dir / "tau2_retail_policy.md", finished_run, "--replay")
    assert result.exit_code == 0, result.stderr
    assert scripted.requests == []
    assert (finished_run / "dataset.jsonl").read_bytes() == dataset


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
    from synthgen.errors import RunDirectoryError
    from synthgen.orchestrator.rundir.directory import RunDirectory
    from synthgen.schemas.manifest import RunBinding

    binding = RunBinding.model_validate_json((finished_run / "run.json").read_bytes())
    first = RunDirectory(finished_run, binding)
    try:
        with pytest.raises(RunDirectoryError, match="another synthgen run is using"):
            RunDirectory(finished_run, binding)
    finally:
        first.close()
    RunDirectory(finished_run, binding).close()  # free again once the first is closed


def test_two_runs_started_together_on_an_empty_directory_cannot_both_pass_the_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from synthgen.errors import RunDirectoryError
    from synthgen.orchestrator.rundir import directory
    from synthgen.schemas.manifest import RunBinding, RunConfig

    config = RunConfig(model="m", seed=1, temperature=0, max_examples=None, concurrency=1, max_revisions=0,
                       window_tokens=300, strength=2)  # fmt: skip
    binding = RunBinding(run_id="r-1", inputs=[], config=config)
    both_checked = threading.Barrier(2)
    check = directory.check_run_dir

    def check_together(*args: Any, **kwargs: Any) -> None:
        check(*args, **kwargs)
        try:  # both runs past their checks at once: the window the lock must close
            both_checked.wait(timeout=1)
        except threading.BrokenBarrierError:
            pass

    monkeypatch.setattr(directory, "check_run_dir", check_together)
    out = tmp_path / "run"
    opened: list[directory.RunDirectory] = []
    refused: list[str] = []

    def start() -> None:
        try:
            opened.append(directory.RunDirectory(out, binding))
        except RunDirectoryError as err:
            refused.append(str(err))

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for run_dir in opened:
        run_dir.close()
    assert len(opened) == 1 and refused == [f"another synthgen run is using {out}: wait for it or choose another --out"]
