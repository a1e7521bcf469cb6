"""The eval suites replay runs recorded from a real local model; inline snapshots pin their scores.

A prompt or code change that alters the dataset shows up here as a snapshot diff; one that
changes a model request shows up as a replay miss naming the stale call, never as a live call.
"""

import asyncio

import pytest
from inline_snapshot import snapshot

from synthgen.agents.example_writer import example_writer_agent
from synthgen.evals.suite import RECORDED_RUNS, recorded_runs_dataset, replay_recorded_run


def test_every_recorded_run_has_its_cassette() -> None:
    missing = [run.name for run in RECORDED_RUNS if not run.cassette.exists()]
    assert missing == [], "record them with `python -m synthgen.evals.record`"
    assert all(run.cassette.stat().st_size < 400_000 for run in RECORDED_RUNS)


def test_suite_scores() -> None:
    report = recorded_runs_dataset().evaluate_sync(replay_recorded_run, max_concurrency=1, progress=False)
    assert report.failures == []
    scores = {
        case.name: {
            name: round(result.value, 3) if isinstance(result.value, float) else result.value
            for name, result in {**case.assertions, **case.scores, **case.labels}.items()
        }
        for case in report.cases
    }
    assert scores == snapshot(
        {
            "refund_policy": {
                "Replays": True,
                "LineageResolves": True,
                "EvidenceValidity": 1.0,
                "DuplicateRate": 0.0,
                "PolicyCoverage": 0.016,
                "CriteriaGrounding": 1.0,
                "CriteriaOnTopic": 1.0,
                "CopyRate": 0.0,
                "SubstanceFlaws": 0,
                "RuleCoverage": 0.016,
                "ContrastPairs": 0,
                "StrictRecall": 0.914,
                "Precision": 1.0,
                "Examples": 1,
            },
        }
    )


def test_a_changed_prompt_is_reported_as_stale_calls() -> None:
    with example_writer_agent.override(instructions="Write the example differently now."):
        outcome = asyncio.run(replay_recorded_run(RECORDED_RUNS[0]))
    assert outcome.scores is None
    assert len(outcome.problems) == 1
    assert outcome.problems[0].startswith("--replay: no recorded answer for write stage, example for test case tc_")
    assert "recorded call(s) for it no longer match: its prompt or inputs changed" in outcome.problems[0]


def test_replay_is_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    # Replays must not need weights, keys or a server.
    monkeypatch.setenv("SYNTHGEN_MODELS_DIR", "/nonexistent")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    outcome = asyncio.run(replay_recorded_run(RECORDED_RUNS[0]))
    assert outcome.live_requests == 0
    assert outcome.replayed_requests > 0
