"""Ctrl-C and SIGTERM: the real CLI stops within seconds, says in one line how to resume, leaves no partial output."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from synthgen.orchestrator.run.interrupts import Interrupted, run_interruptible
from synthgen.testing.fake_openai import FakeOpenAIServer, Fault

FINAL_FILES = ["use_cases.json", "policies.json", "test_cases.json", "dataset.jsonl", "manifest.json"]


def _command(doc: Path, out: Path, base_url: str, *flags: str) -> list[str]:
    return [sys.executable, "-m", "synthgen", "agent", "run", str(doc), "--out", str(out), "--base-url", base_url,
            "--model", "gpt-4o-mini", "--max-examples", "4", "--concurrency", "1", *flags]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "OPENAI_API_KEY": "sk-test-not-a-real-key"}


def _recorded(out: Path) -> int:
    path = out / "calls.jsonl"
    return len(path.read_text().split("\n")[:-1]) if path.exists() else 0


def _wait_for(condition, process: subprocess.Popen, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, f"the run ended before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _stop(process: subprocess.Popen, signum: int) -> tuple[float, str]:
    sent = time.monotonic()
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=40)
    return time.monotonic() - sent, stderr


def _assert_clean(out: Path) -> None:
    assert not [name for name in FINAL_FILES if (out / name).exists()]  # no final output at all
    assert not list(out.glob(".*.tmp"))  # and no half-written temp file


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_mid_run_stops_cleanly_and_the_run_resumes(
    signum: signal.Signals, corpus_dir: Path, tmp_path: Path
) -> None:
    doc, out = corpus_dir / "tau2_retail_policy.md", tmp_path / "run"
    with FakeOpenAIServer(delay=0.25, max_seconds=120) as server:
        process = subprocess.Popen(_command(doc, out, server.base_url), env=_env(), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)  # fmt: skip
        _wait_for(lambda: _recorded(out) >= 3, process, "three answers were recorded")
        _, stderr = _stop(process, signum)
        kept = _recorded(out)

        # It stopped mid-run (no final output below); how fast is what the long-wait test checks.
        assert process.returncode == 128 + signum
        assert "Traceback" not in stderr
        expected = (
            f"synthgen: interrupted ({signum.name}): {kept} model answer(s) are kept in {out / 'calls.jsonl'}; "
            "run the same command again to resume"
        )
        assert [line for line in stderr.splitlines() if "interrupted" in line] == [expected]
        assert stderr.splitlines()[-1].startswith("synthgen: interrupted")
        _assert_clean(out)
        assert all(json.loads(line)["key"] for line in (out / "calls.jsonl").read_text().splitlines())

        asked_before = server.request_count
        resumed = subprocess.run(_command(doc, out, server.base_url), env=_env(), capture_output=True, text=True,
                                 timeout=120, check=False)  # fmt: skip
        assert resumed.returncode == 0, resumed.stderr
        assert f"resuming: {kept} recorded call(s)" in resumed.stderr
        assert _recorded(out) == kept + (server.request_count - asked_before)  # each new answer asked for once
    assert len((out / "dataset.jsonl").read_text().splitlines()) == 4


@pytest.mark.parametrize(
    ("signum", "fault", "flags"),
    [
        pytest.param(signal.SIGTERM, Fault.hang(60), ["--timeout", "120"], id="SIGTERM-in-a-hung-request"),
        pytest.param(signal.SIGINT, Fault.rate_limit(retry_after=60), ["--max-wait", "120"], id="SIGINT-in-a-backoff"),
    ],
)
def test_a_signal_during_a_long_wait_stops_at_once(
    signum: signal.Signals, fault: Fault, flags: list[str], corpus_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    with FakeOpenAIServer(max_seconds=120) as server:
        server.plan(fault)
        process = subprocess.Popen(_command(corpus_dir / "tau2_retail_policy.md", out, server.base_url, *flags),
                                   env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        _wait_for(lambda: server.request_count >= 1, process, "the first request")
        time.sleep(0.3)  # now inside the 60 s hang, or the 60 s Retry-After wait
        seconds, stderr = _stop(process, signum)
    # Half the 60 s hang or wait: the stop did not sit it out, however loaded the machine is.
    assert seconds < 30 and process.returncode == 128 + signum
    assert stderr.splitlines()[-1] == (
        f"synthgen: interrupted ({signum.name}) before any model answer was recorded; run the same command again"
    )
    assert "Traceback" not in stderr
    _assert_clean(out)


def test_run_interruptible_cancels_the_run_and_restores_the_handlers() -> None:
    cleaned_up = []
    before = signal.getsignal(signal.SIGTERM)

    async def run() -> str:
        asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), signal.SIGTERM)
        try:
            await asyncio.sleep(30)
        finally:
            cleaned_up.append(True)
        return "finished"

    started = time.monotonic()
    with pytest.raises(Interrupted) as stopped:
        run_interruptible(run())
    assert time.monotonic() - started < 15  # the run was cancelled, not left to sleep its 30 s
    assert (stopped.value.signal_name, stopped.value.exit_code) == ("SIGTERM", 143)
    assert isinstance(stopped.value, KeyboardInterrupt)  # so existing Ctrl-C handling still catches it
    assert cleaned_up == [True]
    assert signal.getsignal(signal.SIGTERM) == before
    assert run_interruptible(asyncio.sleep(0, result="done")) == "done"  # no signal: just asyncio.run


HANGING_CLEANUP = """
import asyncio, sys
from synthgen.orchestrator.run.interrupts import run_interruptible

async def main():
    try:
        print("ready", flush=True)
        await asyncio.sleep(60)
    finally:
        await asyncio.shield(asyncio.sleep(60))  # a cleanup that never ends

run_interruptible(main(), grace=float(sys.argv[1]))
"""


@pytest.mark.parametrize(
    ("signals", "grace", "message", "code"),
    [
        ([signal.SIGINT, signal.SIGINT], 30, "synthgen: SIGINT again: stopping now", 130),
        ([signal.SIGTERM], 0.5, "synthgen: still stopping 0.5 s after SIGTERM: stopped hard", 143),
    ],
    ids=["second-signal", "grace-period"],
)
def test_a_cleanup_that_hangs_cannot_keep_the_process_alive(
    signals: list[signal.Signals], grace: float, message: str, code: int
) -> None:
    process = subprocess.Popen([sys.executable, "-c", HANGING_CLEANUP, str(grace)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    started = time.monotonic()
    for signum in signals:
        process.send_signal(signum)
        time.sleep(0.2)
    _, stderr = process.communicate(timeout=40)
    assert time.monotonic() - started < 30  # the 60 s cleanup was cut short
    assert process.returncode == code
    assert stderr.strip() == message
