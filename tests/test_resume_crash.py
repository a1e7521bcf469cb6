"""Kill the real CLI mid-run with SIGKILL, run it again, and lose nothing: no answer is paid for twice."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from synthgen.testing.fake_openai import FakeOpenAIServer

DATA_FILES = ["use_cases.json", "policies.json", "decisions.json", "test_cases.json", "dataset.jsonl"]


def _command(doc: Path, out: Path, base_url: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "synthgen",
        "agent",
        "run",
        str(doc),  # a file or a directory of documents
        "--out",
        str(out),
        "--base-url",
        base_url,
        "--model",
        "gpt-4o-mini",
        "--max-examples",
        "6",
        "--concurrency",
        "1",
    ]


def _env() -> dict[str, str]:
    return {**os.environ, "OPENAI_API_KEY": "sk-test-not-a-real-key"}


def _recorded(out: Path) -> list[dict]:
    path = out / "calls.jsonl"
    if not path.exists():
        return []
    complete = path.read_text().split("\n")[:-1]  # a torn last line is not a record
    return [json.loads(line) for line in complete]


def test_sigkill_during_example_writing_then_resume(corpus_dir: Path, tmp_path: Path) -> None:
    doc = corpus_dir / "tau2_retail_policy.md"
    with FakeOpenAIServer(delay=0.2, max_seconds=240) as server:
        reference = subprocess.run(
            _command(doc, tmp_path / "reference", server.base_url),
            env=_env(),
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert reference.returncode == 0, reference.stderr
        needed = len(_recorded(tmp_path / "reference"))

        out = tmp_path / "crashed"
        before = server.request_count
        process = subprocess.Popen(
            _command(doc, out, server.base_url), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while sum(r["stage"] == "write" for r in _recorded(out)) < 3:
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "example writing never started"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        assert not (out / "dataset.jsonl").exists()  # no partial final output
        kept = len(_recorded(out))
        assert 0 < kept < needed

        resumed_from = server.request_count
        resumed = subprocess.run(
            _command(doc, out, server.base_url), env=_env(), check=False, capture_output=True, text=True, timeout=120
        )
        assert resumed.returncode == 0, resumed.stderr
        assert f"resuming: {kept} recorded call(s)" in resumed.stderr
        # Only the calls without a recorded answer went to the server again.
        assert server.request_count - resumed_from == needed - kept
        assert resumed_from - before >= kept

    for name in DATA_FILES:
        assert (out / name).read_bytes() == (tmp_path / "reference" / name).read_bytes(), name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["volatile"]["calls"]["replayed"]["requests"] == kept
    assert manifest["volatile"]["calls"]["live"]["requests"] == needed - kept
    # The document's extract and design steps had finished: the resumed run took their results from the
    # workflow database and did not run them again (no extract or design span in its trace).
    resumed_spans = _spans_of_last_invocation(out)
    assert "stage write" in {s["name"] for s in resumed_spans}
    assert not {"stage extract", "stage design"} & {s["name"] for s in resumed_spans}


def _spans_of_last_invocation(out: Path) -> list[dict]:
    spans = [json.loads(line) for line in (out / "trace.jsonl").read_text().splitlines()]
    return [s for s in spans if s["trace_id"] == spans[-1]["trace_id"]]


def _kill_when(process: subprocess.Popen, out: Path, ready: "Callable[[list[dict]], bool]") -> int:
    """SIGKILL `process` once its calls.jsonl satisfies `ready`; the number of calls it had recorded."""
    deadline = time.monotonic() + 90
    while not ready(_recorded(out)):
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "the run never got there"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    return len(_recorded(out))


def test_many_documents_killed_twice_resume_without_sending_an_answer_again(corpus_dir: Path, tmp_path: Path) -> None:
    library = tmp_path / "library"
    library.mkdir()
    for name in ("tau2_retail_policy.md", "github_acceptable_use.md", "contoso_product_info_1.md"):
        (library / name).write_bytes((corpus_dir / name).read_bytes())
    with FakeOpenAIServer(delay=0.2, max_seconds=400) as server:
        reference = subprocess.run(_command(library, tmp_path / "reference", server.base_url), env=_env(),
                                   check=False, capture_output=True, text=True, timeout=300)  # fmt: skip
        assert reference.returncode == 0, reference.stderr
        needed = len(_recorded(tmp_path / "reference"))

        out = tmp_path / "crashed"
        sent_before = server.request_count
        # Killed while documents are still being planned, then again while examples are written.
        first = subprocess.Popen(_command(library, out, server.base_url), env=_env(),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        _kill_when(first, out, lambda records: sum(r["stage"] == "extract" for r in records) >= 2)
        second = subprocess.Popen(_command(library, out, server.base_url), env=_env(),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        kept = _kill_when(second, out, lambda records: sum(r["stage"] == "write" for r in records) >= 2)
        assert not (out / "dataset.jsonl").exists()
        assert 0 < kept < needed

        resumed = subprocess.run(_command(library, out, server.base_url), env=_env(), check=False,
                                 capture_output=True, text=True, timeout=300)  # fmt: skip
        assert resumed.returncode == 0, resumed.stderr
        # Every answer was sent once, but for at most the one call in flight at each kill (--concurrency 1).
        assert needed <= server.request_count - sent_before <= needed + 2

    for name in DATA_FILES:
        assert (out / name).read_bytes() == (tmp_path / "reference" / name).read_bytes(), name
    keys = [r["key"] for r in _recorded(out)]
    assert len(keys) == len(set(keys)) == needed
    # Every document had been planned before the second kill: no extract or design step ran again.
    assert not {"stage extract", "stage design"} & {s["name"] for s in _spans_of_last_invocation(out)}
