"""Spans: synthgen's run -> document -> stage -> item tree, pydantic-ai's below it, trace.jsonl and `synthgen trace`."""

import asyncio
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import logfire
import pytest
from dirty_equals import IsNonNegative, IsPositiveInt, IsStr
from inline_snapshot import snapshot
from logfire.testing import CaptureLogfire
from pydantic_ai import Agent
from typer.testing import CliRunner

from synthgen.orchestrator.cli.app import app
from synthgen.orchestrator.llm.resolve import ResolvedModel
from synthgen.orchestrator.observe import tracing
from synthgen.orchestrator.run.pipeline import RunOptions, run_pipeline
from synthgen.orchestrator.rundir.documents import load_documents
from synthgen.testing.scripted import ScriptedModel

RULES = (
    "# Refunds\n"
    "Support agents must verify the customer's email before any refund.\n"
    "Refunds over $100 require a manager's approval.\n"
    "# Privacy\n"
    "Agents must not share order details with anyone but the account holder.\n"
)
DATA_FILES = ["use_cases.json", "policies.json", "decisions.json", "test_cases.json", "dataset.jsonl"]
runner = CliRunner()

KEPT = re.compile(r"^(synthgen\..*|gen_ai\.usage\..*_tokens)$")
REDUNDANT = {"logfire.msg", "synthgen.run_id", "synthgen.kind", "synthgen.stage"}  # in the title or the tree
SHA256 = IsStr(regex=r"[0-9a-f]{64}")


@pytest.fixture
def instrumented() -> Iterator[None]:
    logfire.instrument_pydantic_ai()
    yield
    Agent.instrument_all(False)


def _title(span: dict[str, Any]) -> str:
    message, name = span["attributes"].get("logfire.msg", ""), span["name"]
    return message if message.startswith(name) else name if name.startswith("invoke_agent") else f"{name}: {message}"


def _attributes(span: dict[str, Any]) -> dict[str, Any]:
    return {
        k.removeprefix("synthgen."): (list(v) if isinstance(v, tuple) else v)
        for k, v in sorted(span["attributes"].items())
        if KEPT.match(k) and k not in REDUNDANT
    }


def outline(spans: list[dict[str, Any]]) -> list[str]:
    """Each span's title, indented under its parent, siblings in a stable order."""
    children: dict[int | None, list[dict[str, Any]]] = {}
    for span in spans:
        children.setdefault(span["parent"]["span_id"] if span.get("parent") else None, []).append(span)
    lines: list[str] = []

    def visit(span: dict[str, Any], depth: int) -> None:
        lines.append("  " * depth + _title(span))
        for kid in sorted(
            children.get(span["context"]["span_id"], []), key=lambda s: (s["name"], str(s["attributes"]))
        ):
            visit(kid, depth + 1)

    for root in children[None]:
        visit(root, 0)
    return lines


def test_span_tree_of_a_scripted_run(
    capfire: CaptureLogfire, instrumented: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the document's path is recorded as given
    Path("rules.md").write_text(RULES)
    docs = load_documents([Path("rules.md")], 100_000)
    model = ResolvedModel(ScriptedModel().model(), "function:scripted")
    asyncio.run(run_pipeline(docs, model, RunOptions(out=tmp_path / "run", max_examples=2)))
    spans = capfire.exporter.exported_spans_as_dict()
    # The run id is on every span (as baggage).
    assert {span["attributes"]["synthgen.run_id"] for span in spans} == {"rules-fb0b20fb"}
    assert outline(spans) == snapshot(
        [
            "synthgen run rules-fb0b20fb",
            "  document rules.md",
            "    stage design: design rules.md",
            "      test cases: 3 over 1 axes, 1 contrast pairs",
            "      test design: axes whose values make rules apply",
            "        invoke_agent designer",
            "          chat scripted",
            "    stage extract: extract rules.md",
            "      extract batch: 3 candidates, lines 2-5",
            "        invoke_agent extraction",
            "          chat scripted",
            "      extract use cases: 2 headings",
            "        invoke_agent use_cases",
            "          chat scripted",
            "      merge: 2 use cases, 2 policies",
            "    stage supervise: supervise rules.md",
            "      supervise attempt: attempt 1 of 3",
            "        review ex_42178682bf, ex_3f322b4f09",
            "          invoke_agent supervisor",
            "            chat scripted",
            "    stage write: write rules.md",
            "      write example: example ex_3f322b4f09 for tc_3f322b4f09",
            "        invoke_agent example_writer",
            "          chat scripted",
            "      write example: example ex_42178682bf for tc_42178682bf",
            "        invoke_agent example_writer",
            "          chat scripted",
        ]
    )
    attributes = {_title(span): _attributes(span) for span in spans if span["name"] != "chat scripted"}
    assert attributes["synthgen run rules-fb0b20fb"] == snapshot(
        {
            "documents": 1,
            "examples": 2,
            "input_tokens": IsPositiveInt,
            "live_requests": 6,
            "model": "function:scripted",
            "output_tokens": IsPositiveInt,
            "replay": False,
            "replayed_requests": 0,
            "requests": 6,
        }
    )
    assert attributes["document rules.md"] == snapshot(
        {"document.id": "doc_19502e11e7ee", "document.path": "rules.md", "document.sha256": SHA256, "lines": 5}
    )
    assert attributes["extract batch: 3 candidates, lines 2-5"] == snapshot(
        {
            "asked_again": False,
            "candidates": 3,
            "candidates_missing": 0,
            "lines": "2-5",
            "queued_ms": IsNonNegative,
            "rules_found": 2,
        }
    )
    assert attributes["write example: example ex_42178682bf for tc_42178682bf"] == snapshot(
        {
            "example_id": "ex_42178682bf",
            "outcome": "written",
            "policy_ids": ["pol_76ad3b4628"],
            "queued_ms": IsNonNegative,
            "test_case_id": "tc_42178682bf",
            "use_case_id": "uc_26f4878667",
        }
    )
    assert attributes["stage supervise: supervise rules.md"] == snapshot(
        {"accepted": ["ex_42178682bf", "ex_3f322b4f09"], "rejected": []}
    )
    assert attributes["review ex_42178682bf, ex_3f322b4f09"] == snapshot(
        {
            "checks": [
                "ex_42178682bf outcome: ok: read against the rules",
                "ex_42178682bf criteria: ok: read against the rules",
                "ex_42178682bf conversation: ok: read against the rules",
                "ex_42178682bf axis_values: ok: read against the rules",
                "ex_3f322b4f09 outcome: ok: read against the rules",
                "ex_3f322b4f09 criteria: ok: read against the rules",
                "ex_3f322b4f09 conversation: ok: read against the rules",
                "ex_3f322b4f09 axis_values: ok: read against the rules",
            ],
            "example_ids": ["ex_42178682bf", "ex_3f322b4f09"],
            "queued_ms": IsNonNegative,
            "verdicts": ["ex_42178682bf: accept", "ex_3f322b4f09: accept"],
        }
    )
    # Every model call: its tokens, and the key of its record in calls.jsonl.
    chats = [_attributes(span) for span in spans if span["name"] == "chat scripted"]
    assert (
        chats
        == [
            {
                "gen_ai.usage.input_tokens": IsPositiveInt,
                "gen_ai.usage.output_tokens": IsPositiveInt,
                "call.key": SHA256,
                "call.priced": False,
                "call.replayed": False,
            }
        ]
        * 6
    )


def _cli(*args: str | Path) -> Any:
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def scripted(use_model: Callable[[ScriptedModel], ScriptedModel]) -> ScriptedModel:
    return use_model(ScriptedModel())


def _spans(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "trace.jsonl").read_text().splitlines()]


def test_trace_jsonl_keeps_parent_links_and_leaves_the_data_reproducible(
    tmp_path: Path, scripted: ScriptedModel
) -> None:
    doc = tmp_path / "rules.md"
    doc.write_text(RULES)
    out = tmp_path / "run"
    assert _cli("agent", "run", doc, "--out", out, "--max-examples", "2").exit_code == 0
    first = {name: (out / name).read_bytes() for name in DATA_FILES}
    spans = _spans(out)
    ids = {s["span_id"] for s in spans}
    roots = [s for s in spans if s["parent_id"] is None]
    assert [r["name"] for r in roots] == ["synthgen run"]
    assert all(s["parent_id"] in ids for s in spans if s["parent_id"] is not None)
    assert len({s["trace_id"] for s in spans}) == 1
    names = {s["name"] for s in spans}
    assert {"document", "stage extract", "stage design", "stage write", "stage supervise", "extract batch",
            "write example", "review", "invoke_agent extraction", "chat scripted"} <= names  # fmt: skip
    # Message contents stay out of the local file: calls.jsonl has every answer, Logfire gets them in full.
    assert "gen_ai.input.messages" not in (out / "trace.jsonl").read_text()
    document = next(s for s in spans if s["name"] == "document")
    assert len(document["attributes"]["synthgen.document.sha256"]) == 64
    assert all(s["attributes"]["synthgen.run_id"] == roots[0]["attributes"]["synthgen.run_id"] for s in spans)

    # The same command again replays every call: same data, a second trace appended.
    again = _cli("agent", "run", doc, "--out", out, "--max-examples", "2")
    assert again.exit_code == 0, again.stderr
    assert {name: (out / name).read_bytes() for name in DATA_FILES} == first
    spans = _spans(out)
    assert len({s["trace_id"] for s in spans}) == 2
    chats = [s for s in spans if s["name"] == "chat scripted"]
    assert sorted(s["attributes"]["synthgen.call.replayed"] for s in chats) == [False] * 6 + [True] * 6


def _labels(output: str) -> list[str]:
    """The tree column and the token and cost columns of `synthgen trace`: durations are left out."""
    rows = []
    for line in output.splitlines():
        match = re.match(r"^(.*?)\s{2,}(\d+ms|[\d.]+s|\dm[\d.]+s|\?)(?:\s+(.*))?$", line)
        rows.append(f"{match.group(1)} | {' '.join((match.group(3) or '').split())}".rstrip() if match else line)
    return [re.sub(r"trace [0-9a-f]{32} · started \S+", "trace <id> · started <time>", r) for r in rows]


def test_synthgen_trace_prints_the_tree_and_an_items_history(
    tmp_path: Path, scripted: ScriptedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("rules.md").write_text(RULES)
    out = Path("run")
    assert _cli("agent", "run", "rules.md", "--out", out, "--max-examples", "2").exit_code == 0

    shown = _cli("trace", out)
    assert shown.exit_code == 0, shown.stderr
    assert _labels(shown.stdout) == snapshot(
        [
            "trace <id> · started <time> · 27 spans · 6 model calls (6 live, 0 replayed) · 1,973 tokens · cost unpriced (no known price for the model)",
            "",
            "span                                                          time     tokens        cost",
            "synthgen run rules-fb0b20fb | 1,973 unpriced",
            "└─ document rules.md | 1,973 unpriced",
            "   ├─ extract rules.md | 248 unpriced",
            "   │  ├─ 3 candidates, lines 2-5 | 174 unpriced",
            "   │  │  └─ extraction run | 174 unpriced",
            "   │  │     └─ chat scripted (live) | 174 unpriced",
            "   │  ├─ 2 headings | 74 unpriced",
            "   │  │  └─ use_cases run | 74 unpriced",
            "   │  │     └─ chat scripted (live) | 74 unpriced",
            "   │  └─ merge: 2 use cases, 2 policies |",
            "   ├─ design rules.md | 180 unpriced",
            "   │  ├─ test design: axes whose values make rules apply | 180 unpriced",
            "   │  │  └─ designer run | 180 unpriced",
            "   │  │     └─ chat scripted (live) | 180 unpriced",
            "   │  └─ test cases: 3 over 1 axes, 1 contrast pairs |",
            "   ├─ write rules.md | 696 unpriced",
            "   │  ├─ example ex_42178682bf for tc_42178682bf | 350 unpriced written",
            "   │  │  └─ example_writer run | 350 unpriced",
            "   │  │     └─ chat scripted (live) | 350 unpriced",
            "   │  └─ example ex_3f322b4f09 for tc_3f322b4f09 | 346 unpriced written",
            "   │     └─ example_writer run | 346 unpriced",
            "   │        └─ chat scripted (live) | 346 unpriced",
            "   └─ supervise rules.md | 849 unpriced",
            "      └─ attempt 1 of 3 | 849 unpriced",
            "         └─ review ex_42178682bf, ex_3f322b4f09 | 849 unpriced verdicts ex_42178682bf: accept, ex_3f322b4f09: accept",
            "            └─ supervisor run | 849 unpriced",
            "               └─ chat scripted (live) | 849 unpriced",
        ]
    )

    example = json.loads((out / "dataset.jsonl").read_text().splitlines()[0])["id"]
    history = _cli("trace", out, "--item", example[:7])  # a unique prefix is enough
    assert history.exit_code == 0, history.stderr
    tree, _, calls = history.stdout.partition("\n\nmodel calls, from calls.jsonl: ")
    assert _labels(tree) == snapshot(
        [
            "trace <id> · started <time> · 27 spans · 6 model calls (6 live, 0 replayed) · 1,973 tokens · cost unpriced (no known price for the model)",
            "history of ex_42178682bf",
            "",
            "span                                                      time     tokens        cost",
            "synthgen run rules-fb0b20fb | 1,199 unpriced",
            "└─ document rules.md | 1,199 unpriced",
            "   ├─ design rules.md |",
            "   │  └─ test cases: 3 over 1 axes, 1 contrast pairs |",
            "   ├─ write rules.md | 350 unpriced",
            "   │  └─ example ex_42178682bf for tc_42178682bf | 350 unpriced written",
            "   │     └─ example_writer run | 350 unpriced",
            "   │        └─ chat scripted (live) | 350 unpriced",
            "   └─ supervise rules.md | 849 unpriced accepted",
            "      └─ attempt 1 of 3 | 849 unpriced gates passed",
            "         └─ review ex_42178682bf, ex_3f322b4f09 | 849 unpriced verdicts ex_42178682bf: accept",
            "            └─ supervisor run | 849 unpriced",
            "               └─ chat scripted (live) | 849 unpriced",
        ]
    )
    other = json.loads((out / "dataset.jsonl").read_text().splitlines()[1])["id"]
    assert other not in tree.replace(f"review {example}, {other}", "")
    # Then the exact prompt and answer of its two model calls, offline, from calls.jsonl.
    written = json.loads((out / "dataset.jsonl").read_text().splitlines()[0])
    scenario = next(t for t in json.loads((out / "test_cases.json").read_text()) if t["id"] == written["test_case_id"])
    write_call, review_call = calls.split("\n── call ")[1:]
    assert write_call.startswith(f"1 of 2 · write · example for test case {written['test_case_id']} · scripted · live")
    assert "output ExampleDraft · tools lookup_lines · settings seed=42, temperature=0.0" in write_call
    assert "  instructions:\n    You write one example of an evaluation dataset" in write_call
    assert "  user:\n    <use_case>\n" in write_call
    assert f"Expected outcome: {scenario['expected_outcome']} (" in write_call
    assert "  answer calls final_result:" in write_call and json.dumps(written["expected_output"]) in write_call
    assert review_call.startswith("2 of 2 · supervise · ")
    assert "output SupervisorReview" in review_call and f'"item_id": "{example}"' in review_call

    policy = json.loads((out / "policies.json").read_text())[0]["id"]
    lineage = _cli("trace", out, "--item", policy)
    assert lineage.exit_code == 0
    assert "candidates, lines" in lineage.stdout and "merge:" in lineage.stdout and "test design" in lineage.stdout

    missing = _cli("trace", out, "--item", "ex_0000000000")
    assert missing.exit_code == 1
    assert missing.stderr.strip() == (
        "synthgen: error: no span of this run mentions ex_0000000000: IDs look like uc_…, pol_…, tc_… or ex_…"
    )
    nothing = _cli("trace", tmp_path)
    assert nothing.exit_code == 1 and "has no trace.jsonl" in nothing.stderr


def test_a_run_killed_mid_way_shows_its_orphan_spans(tmp_path: Path) -> None:
    from synthgen.orchestrator.observe.trace_view import render_run

    run = tmp_path / "run"
    run.mkdir()
    span = {"trace_id": "a" * 32, "span_id": "1" * 16, "parent_id": "2" * 16, "name": "write example",
            "start": "2026-01-01T00:00:00.000000Z", "duration_ms": 12.0, "status": "ok",
            "attributes": {"logfire.msg": "example ex_0123456789 for tc_0123456789", "synthgen.kind": "item"}}  # fmt: skip
    (run / "trace.jsonl").write_bytes(
        json.dumps(span).encode() + b"\n" + b'{"trace_id": "a',
    )  # torn last line
    text = render_run(run)
    assert "unfinished: the run stopped before its spans ended" in text
    assert "example ex_0123456789 for tc_0123456789" in text


def test_logfire_is_configured_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = logfire.configure

    def counting(**kwargs: Any) -> None:
        calls.append(kwargs)
        real(**kwargs)

    monkeypatch.setattr(logfire, "configure", counting)
    monkeypatch.delenv("LOGFIRE_TOKEN", raising=False)
    tracing.configure_logfire()
    tracing.configure_logfire()
    assert len(calls) <= 1  # none if an earlier test already configured it
    config = logfire.DEFAULT_LOGFIRE_INSTANCE.config
    assert tracing.TRACE_FILES in config.additional_span_processors
    assert config.send_to_logfire == "if-token-present" and config.console is False
