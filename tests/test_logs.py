"""Logs and progress go to stderr (text or JSON, -v/-q); stdout carries only the summary (or its JSON)."""

import io
import json
import logging
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from synthgen.orchestrator.cli.app import app
from synthgen.orchestrator.observe.logs import LineProgress, LiveProgress, Progress, configure_logging, make_progress
from synthgen.schemas.calls import CallEntry
from synthgen.schemas.manifest import TokenUsage
from synthgen.testing.scripted import ScriptedModel

RULES = "# Rules\nAgents must verify the customer's email.\nAgents must not share order details.\n"
runner = CliRunner()


@pytest.fixture
def doc(tmp_path: Path, use_model: Callable[[ScriptedModel], ScriptedModel]) -> Path:
    use_model(ScriptedModel())
    path = tmp_path / "rules.md"
    path.write_text(RULES)
    return path


def _run(doc: Path, *args: str) -> Any:
    return runner.invoke(app, ["agent", "run", str(doc), "--out", str(doc.parent / "run"), *args])


def test_json_logs_are_one_object_per_line_with_structured_progress(doc: Path) -> None:
    result = _run(doc, "--log-format", "json")
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    done = {r["stage"]: r for r in records if r.get("event") == "stage_done"}
    assert list(done) == ["extract", "design", "write", "supervise"]
    assert done["write"]["done"] == done["write"]["total"] > 0
    assert done["write"]["tokens"] > 0 and done["write"]["calls"] == done["write"]["total"]
    assert done["write"]["cost_usd"] is None and done["write"]["unpriced_calls"] > 0  # unpriced, not $0
    assert result.stdout.startswith("run      ")  # the summary, and nothing else, on stdout


def test_text_logs_and_quiet(doc: Path) -> None:
    text = _run(doc)
    assert text.exit_code == 0, text.stderr
    assert all(line.startswith("synthgen: ") for line in text.stderr.splitlines())
    assert "synthgen: write: done, " in text.stderr
    quiet = _run(doc, "-q")
    assert quiet.exit_code == 0 and quiet.stderr == ""
    assert quiet.stdout.startswith("run      ") and "\ndataset  " in quiet.stdout


def test_json_summary_is_the_only_thing_on_stdout(doc: Path) -> None:
    result = _run(doc, "--json", "-q")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["examples"] > 0 and summary["run_dir"].endswith("run")
    assert set(summary["stages"]) == {"extract", "design", "write", "supervise"}
    assert summary["usage"]["requests"] == sum(s["usage"]["requests"] for s in summary["stages"].values())
    assert (
        summary["usage"]["cost_usd"] is None and summary["usage"]["unpriced_requests"] == summary["usage"]["requests"]
    )


def test_verbose_logs_every_model_call(doc: Path) -> None:
    quiet = _run(doc, "--log-format", "json")
    assert not any(json.loads(line)["level"] == "debug" for line in quiet.stderr.splitlines())
    result = _run(doc, "-v", "--log-format", "json")
    assert result.exit_code == 0, result.stderr
    calls = [r for r in map(json.loads, result.stderr.splitlines()) if r.get("event") == "model_call"]
    assert calls and all(r["level"] == "debug" and r["replayed"] for r in calls)  # the second run replays
    assert {r["agent"] for r in calls} == {"extraction", "use_cases", "designer", "example_writer", "supervisor"}
    assert calls[0]["message"].startswith("replayed call for extraction of ")
    configure_logging()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _entry(stage: str, replayed: bool = False, cost: str | None = "0.001") -> CallEntry:
    usage = TokenUsage(requests=1, input_tokens=100, output_tokens=20, cost_usd=None if cost is None else Decimal(cost),
                       unpriced_requests=0 if cost else 1)  # fmt: skip
    return CallEntry("k" * 64, stage, "item", "example_writer", "openai:gpt-4o", usage, replayed)


def test_a_terminal_gets_a_live_display_and_a_pipe_gets_lines(caplog: pytest.LogCaptureFixture) -> None:
    terminal = _Terminal()
    live = make_progress(stream=terminal)
    assert isinstance(live, LiveProgress)
    live.expect("write", 3)
    for _ in range(3):
        live.on_call(_entry("write"))
        live.advance("write")
    live.on_call(_entry("write", replayed=True))
    live.finish("write")
    live.close()
    shown = terminal.getvalue()
    assert "write" in shown and "3/3" in shown and "$0.003000 spent" in shown and "(1 replayed)" in shown

    assert isinstance(make_progress(stream=io.StringIO()), LineProgress)
    assert type(make_progress(quiet=True, stream=terminal)) is Progress  # -q: nothing shown
    assert isinstance(make_progress(log_format="json", stream=terminal), LineProgress)

    lines = LineProgress(interval=0)
    with caplog.at_level(logging.INFO, logger="synthgen"):
        lines.expect("extract", 2)
        lines.on_call(_entry("extract", cost=None))
        lines.advance("extract")
        lines.finish("extract")
    messages = [r.getMessage() for r in caplog.records]
    assert "extract: 1/2 batches · 1 call(s) · 120 tokens · cost unpriced" in messages
    assert messages[-1] == "extract: done, 1/2 batches · 1 call(s) · 120 tokens · cost unpriced"
