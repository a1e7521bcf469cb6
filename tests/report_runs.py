"""Run directories the report tests open: a replayed cassette run, a scripted run, and a run of a hostile document."""

import asyncio
import re
from pathlib import Path

import pytest
from scripted_model import install_model
from typer.testing import CliRunner

from synthgen.evals.suite import RECORDED_RUNS, replay_into
from synthgen.orchestrator.cli.app import app
from synthgen.orchestrator.observe.tracing import configure_logfire, flush_traces
from synthgen.testing.scripted import Decide, ScriptedModel, extraction_answer

# The quick start's recorded run: one accepted example and three the writer's gates rejected (the model's
# answers never passed the substance gates), so it serves both the accepted and the rejected cards.
CASSETTE = "refund_policy"
WRITE_REJECTS = CASSETTE

# Document text and, through the scripted writer that repeats the rules it cites, model text that
# would run script if the report did not escape it.
HOSTILE = """# Refunds <script>window.__pwned = "heading"</script>

Agents must verify the order number <script>window.__pwned = "rule"</script> before any refund.
Refunds over $100 must be approved by a manager <img src=x onerror="window.__pwned = 'img'">.

# Privacy </section></aside><script>window.__pwned = "privacy"</script>

Agents must never share order details with anyone but the account holder </pre><script>window.__pwned = 1</script>.
"""
runner = CliRunner()


def replayed_cassette_run(out: Path, name: str = CASSETTE) -> Path:
    """A cassette replayed offline through the real pipeline, with trace.jsonl as `agent run` writes it."""
    configure_logfire()  # what `synthgen agent run` does first: spans go to the run's trace.jsonl
    case = next(case for case in RECORDED_RUNS if case.name == name)
    asyncio.run(replay_into(case, out))
    flush_traces()
    return out


def reject_first() -> Decide:
    """A supervisor that rejects the first example it sees and accepts the rest."""
    rejected: list[str] = []

    def decide(example_id: str, prompt: str) -> tuple[str, str, str]:
        if not rejected or rejected[0] == example_id:
            rejected.append(example_id)
            return "reject", "it does not follow the policy", "off_policy"
        return "accept", "", ""

    return decide


def hostile_run(tmp: Path) -> Path:
    """`synthgen agent run` on HOSTILE with the scripted model (installed by the caller): the run's directory."""
    doc, out = tmp / "hostile.md", tmp / "hostile-run"
    doc.write_text(HOSTILE)
    result = runner.invoke(app, ["agent", "run", str(doc), "--out", str(out), "--max-examples", "3", "-q"])
    assert result.exit_code == 0, result.stderr
    return out


# A short document whose scripted run, every test case written, has contrast pairs, an example the
# supervisor rejects, and candidates extraction left out: line 3 (a description), line 13 (never
# answered: not_decided), and line 12, which the model calls no rule but whose cue makes one.
SCRIPTED_DOC = """# Returns

This page explains how the store handles returns.

Customers may return an item within 30 days of delivery.
The assistant must not accept a return after 30 days of delivery.
If the customer has no receipt, the assistant must ask for the order number.
Refunds over $200 must be approved by a manager.

# Privacy

The assistant must never share order details with anyone but the account holder.
Our team reviews these notes every spring.
"""
_CANDIDATE = re.compile(r"^\[(\d+)\] (.*)$", re.MULTILINE)


def leaves_out(prompt: str) -> dict[str, object]:
    """The scripted extraction answer, but line 12's rule called no rule and line 13 never answered."""
    texts = {int(n): text for n, text in _CANDIDATE.findall(prompt)}
    answered = extraction_answer(prompt)["decisions"]
    assert isinstance(answered, list)
    decisions = []
    for decision in answered:
        text = texts[decision["n"]]
        if "every spring" in text:
            continue
        if "share order details" in text:
            decision = {"n": decision["n"], "is_rule": False, "reason": "other", "rules": []}
        decisions.append(decision)
    return {"decisions": decisions}


def scripted_run(out: Path, max_examples: int | None = None) -> Path:
    """`synthgen agent run` on SCRIPTED_DOC with the scripted model (offline, deterministic), trace.jsonl
    included; it rejects the first example it reviews. `max_examples` 2 leaves rules uncovered."""
    doc = out.parent / "returns.md"
    doc.write_text(SCRIPTED_DOC)
    limit = ["--max-examples", str(max_examples)] if max_examples else []
    with pytest.MonkeyPatch.context() as monkeypatch:
        install_model(monkeypatch, ScriptedModel(decide=reject_first(), extract=leaves_out))
        result = runner.invoke(app, ["agent", "run", str(doc), "--out", str(out), *limit, "-q"])
    assert result.exit_code == 0, result.stderr
    return out
