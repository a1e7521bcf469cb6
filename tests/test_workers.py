"""Several processes on one Postgres queue: the real CLI, workers killed and restarted, the fake OpenAI server.

Needs Postgres server binaries (Debian's `postgresql`); without them these tests skip, except
under CI=true, where a missing Postgres fails them (.ci/run installs it).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dbos import DBOSClient

from synthgen.testing.fake_openai import FakeOpenAIServer
from synthgen.testing.postgres import postgres_binaries, throwaway_postgres

IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
DATA_FILES = ["use_cases.json", "policies.json", "test_cases.json", "dataset.jsonl"]
CORPUS = ["tau2_retail_policy.md", "github_acceptable_use.md", "contoso_product_info_1.md"]
PASSWORD = "hunter2-not-shown"  # trust authentication accepts any: it must still never be printed


@pytest.fixture
def postgres_url() -> str:
    if postgres_binaries() is None:
        reason = "no Postgres server binaries (initdb, pg_ctl): apt-get install postgresql"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    with throwaway_postgres() as url:
        yield url.replace("postgres@", f"postgres:{PASSWORD}@")


def _synthgen(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "synthgen", *map(str, args)]


def _env() -> dict[str, str]:
    return {**os.environ, "OPENAI_API_KEY": "sk-test-not-a-real-key"}


def _run(library: Path, out: Path, base_url: str, *more: str) -> list[str]:
    return _synthgen("agent", "run", library, "--out", out, "--base-url", base_url, "--model", "gpt-4o-mini",
                     "--max-examples", "9", "--concurrency", "1", *more)  # fmt: skip


def _library(corpus_dir: Path, root: Path) -> Path:
    root.mkdir()
    for name in CORPUS:
        shutil.copy(corpus_dir / name, root / name)
    return root


def _keys(out: Path) -> list[str]:
    path = out / "calls.jsonl"
    complete = path.read_text().split("\n")[:-1] if path.exists() else []
    return [json.loads(line)["key"] for line in complete]


def _workflows(url: str, **where: str) -> int:
    try:
        client = DBOSClient(system_database_url=url)
    except Exception:  # noqa: BLE001 - the run has not created the database yet
        return 0
    try:
        return len(client.list_workflows(**where, load_input=False, load_output=False))  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - the run has not created DBOS's tables yet
        return 0
    finally:
        client.destroy()


def test_two_workers_one_killed_and_restarted_make_the_one_process_dataset(
    corpus_dir: Path, tmp_path: Path, postgres_url: str
) -> None:
    library = _library(corpus_dir, tmp_path / "library")
    with FakeOpenAIServer(delay=0.3, max_seconds=400) as server:
        reference = subprocess.run(_run(library, tmp_path / "reference", server.base_url), env=_env(),
                                   capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
        assert reference.returncode == 0, reference.stderr
        needed = _keys(tmp_path / "reference")
        assert len(needed) == len(set(needed))

        nothing = subprocess.run(_synthgen("worker", "--database-url", postgres_url), env=_env(),
                                 capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
        assert nothing.returncode == 1
        assert nothing.stderr.strip().splitlines()[-1].startswith("synthgen: error: the database postgresql+psycopg://")
        assert "has no run in progress" in nothing.stderr and PASSWORD not in nothing.stderr

        before = server.request_count
        # Slow answers from here on: the run's own process works one document at a time, and a loaded
        # machine must not let it finish all three before the workers have started and joined.
        server.delay = 1.5
        out = tmp_path / "shared"
        logs = {name: (tmp_path / f"{name}.log").open("w") for name in ("run", "w1", "w2", "w1-again", "other")}
        run = subprocess.Popen(_run(library, out, server.base_url, "--database-url", postgres_url), env=_env(),
                               stdout=logs["run"], stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + 120
        while not _workflows(postgres_url, status="ENQUEUED"):  # a worker needs a run to join
            assert run.poll() is None, (tmp_path / "run.log").read_text()
            assert time.monotonic() < deadline, "the run never queued its documents"
            time.sleep(0.1)
        workers = {
            name: subprocess.Popen(
                _synthgen("worker", "--database-url", postgres_url, "--id", name),
                env=_env(),
                stdout=logs[name],
                stderr=subprocess.STDOUT,
            )
            for name in ("w1", "w2")
        }
        deadline = time.monotonic() + 120
        while not (_workflows(postgres_url, status="PENDING", executor_id="w1") and len(_keys(out)) >= 3):
            assert run.poll() is None, (tmp_path / "run.log").read_text()
            assert time.monotonic() < deadline, "worker w1 never took a document"
            time.sleep(0.1)
        workers["w1"].send_signal(signal.SIGKILL)
        workers["w1"].wait(timeout=10)
        kept = len(_keys(out))

        # From another terminal: the run's state, from the database.
        status = subprocess.run(_synthgen("status", out, "--database-url", postgres_url), env=_env(),
                                capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
        assert status.returncode == 0, status.stderr
        assert re.search(r"^progress   documents [0-2]/3 done, [1-3] in flight, [0-2] queued, 0 failed · \d+ examples",
                         status.stdout, re.MULTILINE), status.stdout  # fmt: skip
        assert "postgres:[REDACTED]@" in status.stdout and PASSWORD not in status.stdout

        # Another run (other settings) on the same database while this one is in progress: refused.
        other = subprocess.run(_run(library, tmp_path / "other", server.base_url, "--database-url", postgres_url,
                                    "--seed", "7"), env=_env(), capture_output=True, text=True, timeout=120,
                               check=False)  # fmt: skip
        assert other.returncode == 1, other.stderr
        assert "holds another run in progress" in other.stderr.strip().splitlines()[-1]
        assert PASSWORD not in other.stderr

        # w1 comes back under the same name and takes back the documents it had in flight.
        again = subprocess.Popen(_synthgen("worker", "--database-url", postgres_url, "--id", "w1"), env=_env(),
                                 stdout=logs["w1-again"], stderr=subprocess.STDOUT)  # fmt: skip
        assert run.wait(timeout=300) == 0, (tmp_path / "run.log").read_text()
        assert again.wait(timeout=60) == 0, (tmp_path / "w1-again.log").read_text()
        assert workers["w2"].wait(timeout=60) == 0, (tmp_path / "w2.log").read_text()
        sent = server.request_count - before

    for name in DATA_FILES:
        assert (out / name).read_bytes() == (tmp_path / "reference" / name).read_bytes(), name
    recorded = _keys(out)
    assert sorted(recorded) == sorted(needed)  # every answer recorded once
    # No answer recorded before the kill was asked for again: at most the one call w1 had in flight
    # (--concurrency 1) was sent twice.
    assert len(needed) <= sent <= len(needed) + 1, (sent, len(needed), kept)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["volatile"]["calls"]["live"]["requests"] == len(needed)
    everything = "".join(p.read_text(errors="replace") for p in tmp_path.glob("*.log"))
    everything += (out / "manifest.json").read_text() + (out / "trace.jsonl").read_text()
    assert PASSWORD not in everything
    assert "postgres:[REDACTED]@" in (tmp_path / "w1-again.log").read_text()
