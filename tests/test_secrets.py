"""API keys and tokens never reach a file the run writes, its logs, or the spans it exports.

The real CLI runs against the fake OpenAI server with canary credentials, debug logs of every
library on (-vv, OPENAI_LOG=debug), a Logfire token and an OTLP endpoint, both pointed at local
collectors. Then every written file, both output streams, `synthgen trace` and every exported
request body are searched for the canaries; only the Logfire collector may see the token, in
its Authorization header, which is where it belongs.
"""

import gzip
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from synthgen.testing.fake_openai import FakeOpenAIServer, Fault, only_for

OPENAI_KEY = "sk-canary-5f1e2d3c4b5a69788796a5b4c3d2e1f0"
LOGFIRE_TOKEN = "pylf_v1_us_canaryLogfireToken0123456789abcdef"
CANARIES = (OPENAI_KEY, LOGFIRE_TOKEN, "5f1e2d3c4b5a6978", "canaryLogfireToken")


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


@dataclass
class Collector:
    """Accepts OTLP/HTTP exports (and Logfire's token check) on 127.0.0.1 and keeps what it got."""

    received: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def paths(self, method: str = "POST") -> set[str]:
        return {r.path for r in self.received if r.method == method}


@pytest.fixture
def collectors() -> Iterator[tuple[Collector, Collector]]:
    made = []
    for _ in range(2):
        collector = Collector()

        class Handler(BaseHTTPRequestHandler):
            sink = collector

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _answer(self, body: bytes) -> None:
                data = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.headers.get("content-encoding") == "gzip":
                    data = gzip.decompress(data)
                headers = {k.lower(): v for k, v in self.headers.items()}
                self.sink.received.append(Received(self.command, self.path, headers, data))
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # Logfire checks its token at /v1/info
                self._answer(json.dumps({"project_name": "canary-test", "project_url": "http://127.0.0.1/p"}).encode())

            def do_POST(self) -> None:
                self._answer(b"{}")

        collector.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=collector.server.serve_forever, daemon=True).start()
        made.append(collector)
    yield made[0], made[1]
    for collector in made:
        assert collector.server is not None
        collector.server.shutdown()
        collector.server.server_close()


def _leaks(text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [canary for canary in CANARIES if canary.encode() in data]


def _env(logfire_api: Collector, otlp: Collector) -> dict[str, str]:
    return {
        **os.environ,
        "OPENAI_API_KEY": OPENAI_KEY,
        "LOGFIRE_TOKEN": LOGFIRE_TOKEN,
        "LOGFIRE_BASE_URL": logfire_api.url,
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.url,
        "OPENAI_LOG": "debug",
    }


def _assert_no_leak_in_exports(logfire_api: Collector, otlp: Collector) -> bytes:
    """No credential in any exported body; the Logfire token only as Logfire's Authorization header."""
    assert "/v1/traces" in logfire_api.paths() and "/v1/traces" in otlp.paths()
    assert {r.headers.get("authorization") for r in logfire_api.received} == {LOGFIRE_TOKEN}
    assert all(LOGFIRE_TOKEN not in json.dumps(r.headers) for r in otlp.received)
    for received in [*logfire_api.received, *otlp.received]:
        assert _leaks(received.body) == [], received.path
    return b"".join(r.body for r in otlp.received if r.path == "/v1/traces")


def test_no_key_or_token_in_any_file_log_or_export(
    corpus_dir: Path, tmp_path: Path, collectors: tuple[Collector, Collector]
) -> None:
    logfire_api, otlp = collectors
    out = tmp_path / "run"
    env = _env(logfire_api, otlp)
    # The first example's server echoes the key in a 500 page, twice: retried, then the example is rejected,
    # and its error (with the page) goes to the spans.
    with FakeOpenAIServer(max_seconds=120, fault_for=only_for("example_writer", 2, Fault.echo_key(500))) as server:
        command = [sys.executable, "-m", "synthgen", "agent", "run", str(corpus_dir / "tau2_retail_policy.md"),
                   "--out", str(out), "--base-url", server.base_url, "--model", "gpt-4o-mini",
                   "--max-examples", "3", "--max-attempts", "2", "--concurrency", "1", "-vv"]  # fmt: skip
        result = subprocess.run(command, env=env, check=False, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-2000:]
        assert [s.fault for s in server.served].count("echo_key") == 2
    shown = subprocess.run([sys.executable, "-m", "synthgen", "trace", str(out)], env=env, check=False, capture_output=True,
                           text=True, timeout=60)  # fmt: skip
    assert shown.returncode == 0, shown.stderr

    written = sorted(p for p in out.rglob("*") if p.is_file())
    assert {p.name for p in written} >= {"manifest.json", "calls.jsonl", "trace.jsonl", "dataset.jsonl", "run.json"}
    for path in written:
        assert _leaks(path.read_bytes()) == [], path.name
    assert b"error processing request {'api_key': '[REDACTED]'}" in (out / "trace.jsonl").read_bytes()  # masked
    assert _leaks(result.stdout) == [] and _leaks(shown.stdout) == []
    assert _leaks(result.stderr) == [], "a debug log printed a credential"
    assert len(result.stderr.splitlines()) > 50  # the libraries' debug logs really were on
    assert "synthgen: rejected example for test case tc_" in result.stderr  # the echoing example failed alone

    # The spans went to Logfire (with the token as its Authorization header, nowhere else) and to the
    # OTLP endpoint; neither export carries a credential in its body.
    spans = _assert_no_leak_in_exports(logfire_api, otlp)
    assert b"synthgen run" in spans and b"chat gpt-4o-mini" in spans and b"synthgen.run_id" in spans


def test_a_key_echoed_in_a_401_page_is_masked_in_the_error_and_the_trace(
    corpus_dir: Path, tmp_path: Path, collectors: tuple[Collector, Collector]
) -> None:
    logfire_api, otlp = collectors
    out = tmp_path / "run"
    with FakeOpenAIServer(max_seconds=120, fault_for=lambda number, body: Fault.echo_key(401)) as server:
        command = [sys.executable, "-m", "synthgen", "agent", "run", str(corpus_dir / "tau2_retail_policy.md"),
                   "--out", str(out), "--base-url", server.base_url, "--model", "gpt-4o-mini"]  # fmt: skip
        result = subprocess.run(command, env=_env(logfire_api, otlp), check=False, capture_output=True, text=True,
                                timeout=120)  # fmt: skip
    assert result.returncode == 1
    error = result.stderr.splitlines()[-1]
    assert error.startswith("synthgen: error: model call for ") and "Incorrect API key provided: [REDACTED]" in error
    assert _leaks(result.stderr) == [] and _leaks(result.stdout) == []
    for path in (p for p in out.rglob("*") if p.is_file()):
        assert _leaks(path.read_bytes()) == [], path.name
    assert b"Incorrect API key provided: [REDACTED]" in (out / "trace.jsonl").read_bytes()
    _assert_no_leak_in_exports(logfire_api, otlp)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"Incorrect API key provided: {OPENAI_KEY}.", "Incorrect API key provided: [REDACTED]."),
        ("Incorrect API key provided: sk-canar**********************e1f0.", "Incorrect API key provided: [REDACTED]."),
        ("key ends in 5f1e2d3c4b5a6978 here", "key ends in [REDACTED] here"),  # part of a key is a key
        ("Authorization: Bearer abc123def456ghi", "Authorization: Bearer [REDACTED]"),
        ("postgres://app:hunter2hunter2@db:5432/x failed", "postgres://app:[REDACTED]@db:5432/x failed"),
        ("dsn host=db password=s3cr3t user=app", "dsn host=db password=[REDACTED] user=app"),
        ("the bearer of a gift card may return it", "the bearer of a gift card may return it"),  # prose stays
        ('{"url":"http://host:8080","to":"a@b.c"}', '{"url":"http://host:8080","to":"a@b.c"}'),  # JSON stays JSON
        ("run tau2-retail-policy-e2bcdc8c: 3 examples", "run tau2-retail-policy-e2bcdc8c: 3 examples"),
    ],
)
def test_redact(text: str, masked: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from synthgen.orchestrator.observe.redact import redact

    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    assert redact(text) == masked
