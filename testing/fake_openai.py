"""A fake OpenAI-compatible chat-completions server for tests, benchmarks and demos.

It answers `POST /v1/chat/completions` with the rule-based answers of `synthgen.testing.scripted`,
as an output-tool call, so whole runs go through the real HTTP path (`--base-url`). Faults can be
planned per request to exercise retries and error handling:

    with FakeOpenAIServer() as server:
        server.plan(Fault.rate_limit(retry_after=1), Fault.server_error(503))  # the next two requests
        ...  # point OpenAIProvider(base_url=server.base_url) or `--base-url` at it
        server.agent_counts  # {'extraction': 3, 'designer': 1, ...}

It binds 127.0.0.1 only, serves from a background thread, and stops by itself after
`max_requests` requests or `max_seconds` seconds, so a test can never leave it running.

Standalone: `python -m synthgen.testing.fake_openai --port 8080 [--delay 0.2]` prints its base URL on
one line and serves until killed or bounded out.

To add a fault: add a constructor to `Fault`, then a branch in `_Handler._reply`.
"""

import argparse
import json
import signal
import socket
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any, Literal, Self

from synthgen.testing.scripted import (
    ScriptedModel,
    design_answer,
    example_answer,
    extraction_answer,
    use_case_answer,
)

HOST = "127.0.0.1"  # never anything else: this server must not be reachable from another machine
OUTPUT_TOOL_PREFIX = "final_result"  # pydantic-ai names its output tool final_result (final_result_<Type> for unions)
INVENTED_QUOTE = "Refunds are paid in gold coins, delivered by carrier pigeon within one hour."

FaultKind = Literal[
    "rate_limit", "server_error", "hang", "disconnect", "truncated_json",
    "schema_violation", "invented_quote", "empty_choices", "malformed", "echo_key",
]  # fmt: skip
AgentName = Literal["extraction", "use_cases", "designer", "supervisor", "example_writer", "unknown"]


@dataclass(frozen=True)
class Fault:
    """What to do instead of (or to) the scripted answer of one request. Build one with the constructors."""

    kind: FaultKind
    status: int = 200
    retry_after: float | None = None  # seconds, sent as the Retry-After header when set
    seconds: float = 0.0  # how long a hang lasts
    quote: str = INVENTED_QUOTE
    body: Any = None  # malformed: the whole body sent instead of a completion
    fields: dict[str, Any] | None = None  # malformed: top-level fields of the completion replaced

    @classmethod
    def rate_limit(cls, retry_after: float | None = None) -> "Fault":
        """429, with a Retry-After header only when `retry_after` is given."""
        return cls("rate_limit", status=429, retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 500, retry_after: float | None = None) -> "Fault":
        """A 5xx with an OpenAI-style error body (500, 502, 503, ...), with Retry-After when given."""
        if not 500 <= status <= 599:
            raise ValueError(f"server_error takes a 5xx status, not {status}")
        return cls("server_error", status=status, retry_after=retry_after)

    @classmethod
    def hang(cls, seconds: float) -> "Fault":
        """Answer validly, but only after `seconds`: set it past the client's timeout. Shutdown cuts it short."""
        return cls("hang", seconds=seconds)

    @classmethod
    def disconnect(cls) -> "Fault":
        """Close the connection without sending any response."""
        return cls("disconnect")

    @classmethod
    def truncated_json(cls) -> "Fault":
        """A 200 whose JSON body is cut in half (Content-Length matches the bytes sent)."""
        return cls("truncated_json")

    @classmethod
    def schema_violation(cls) -> "Fault":
        """A well-formed completion whose tool-call arguments do not fit the output schema."""
        return cls("schema_violation")

    @classmethod
    def invented_quote(cls, quote: str = INVENTED_QUOTE) -> "Fault":
        """The scripted answer with its first evidence quote replaced by text that is not in the document.

        Answers without evidence (test design, supervisor) are sent unchanged.
        """
        return cls("invented_quote", quote=quote)

    @classmethod
    def empty_choices(cls) -> "Fault":
        """A 200 completion with `choices: []`."""
        return cls("empty_choices")

    @classmethod
    def malformed(cls, body: Any = None, **fields: Any) -> "Fault":
        """A 200 that is not a usable chat completion: `body` instead of one (e.g. `{}` or an error object),
        or the scripted completion with top-level `fields` replaced (e.g. `choices=[None]`)."""
        return cls("malformed", body=body, fields=fields or None)

    @classmethod
    def echo_key(cls, status: int = 401) -> "Fault":
        """An error page that echoes the request's API key back, as some servers do on a 401 or a 500."""
        return cls("echo_key", status=status)


FaultFor = Callable[[int, dict[str, Any]], Fault | None]  # (1-based request number, request body) -> fault


def only_for(agent: AgentName, count: int, fault: Fault) -> FaultFor:
    """The first `count` requests of one agent get `fault`; everything else is answered."""
    seen = 0

    def fault_for(number: int, body: dict[str, Any]) -> Fault | None:
        nonlocal seen
        if agent_of(body) != agent or seen >= count:
            return None
        seen += 1
        return fault

    return fault_for


# --- Reading a request: which agent asks, and what. ---


def output_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """The `function` of the request's output tool, if it has one."""
    for tool in body.get("tools") or []:
        function = tool.get("function") or {}
        if str(function.get("name", "")).startswith(OUTPUT_TOOL_PREFIX):
            return dict(function)
    return None


def agent_of(body: dict[str, Any]) -> AgentName:
    """The synthgen agent behind a request, from the properties of its output tool's schema."""
    fields = set(((output_tool(body) or {}).get("parameters") or {}).get("properties", {}))
    if "decisions" in fields:
        return "extraction"
    if "headings" in fields:
        return "use_cases"
    if "axes" in fields:
        return "designer"
    if "verdicts" in fields:
        return "supervisor"
    if "expected_output" in fields:
        return "example_writer"
    return "unknown"


def first_user_prompt(body: dict[str, Any]) -> str:
    """The first user message: the agent's prompt. Retries append messages after it, so it stays put."""
    for message in body.get("messages") or []:
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
                return "".join(part.get("text", "") for part in content if isinstance(part, dict))
            return content if isinstance(content, str) else ""
    return ""


def scripted_answer(agent: AgentName, prompt: str, scripted: ScriptedModel) -> dict[str, Any]:
    if agent == "extraction":
        return extraction_answer(prompt)
    if agent == "use_cases":
        return use_case_answer(prompt)
    if agent == "designer":
        return design_answer(prompt)
    if agent == "supervisor":
        return scripted.supervisor_answer(prompt)
    return example_answer(prompt)  # ScriptedModel treats any other schema as the example writer, so do we


# --- Building responses. ---


def replace_first_quote(answer: Any, quote: str) -> bool:
    """Replace the first evidence quote found depth-first, in place; False when there is none."""
    if isinstance(answer, dict):
        evidence = answer.get("evidence")
        if isinstance(evidence, list) and evidence and isinstance(evidence[0], dict) and "quote" in evidence[0]:
            evidence[0]["quote"] = quote
            return True
        return any(replace_first_quote(value, quote) for value in answer.values())
    if isinstance(answer, list):
        return any(replace_first_quote(value, quote) for value in answer)
    return False


def schema_violating(answer: dict[str, Any]) -> dict[str, Any]:
    """Valid JSON, wrong shape: every field becomes a number and an unknown field appears."""
    return {**{name: 12345 for name in answer}, "unexpected_field": "not in the schema"}


def completion(body: dict[str, Any], number: int, tool_name: str | None, answer: dict[str, Any]) -> dict[str, Any]:
    """A chat.completion as OpenAI sends it, calling the output tool with `answer` (text if there is no tool)."""
    arguments = json.dumps(answer)
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    if tool_name:
        message["tool_calls"] = [
            {
                "id": f"call_fake{number:06d}",
                "type": "function",
                "function": {"name": tool_name, "arguments": arguments},
            }
        ]
    else:
        message["content"] = arguments
    prompt_tokens = len(json.dumps(body.get("messages", []))) // 4 + 1  # deterministic stand-in for a tokenizer
    completion_tokens = len(arguments) // 4 + 1
    return {
        "id": f"chatcmpl-fake{number:06d}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "system_fingerprint": "fp_synthgen_fake",
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": "tool_calls" if tool_name else "stop"}
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def error_body(message: str, error_type: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": None, "code": code}}


# --- The server. ---


@dataclass(frozen=True)
class Served:
    """One chat request as the server saw it."""

    number: int  # 1-based
    agent: AgentName
    fault: FaultKind | None  # None: the scripted answer was sent


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a handler stuck on a slow client never keeps the process alive
    fake: "FakeOpenAIServer"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API, so pooled connections get exercised
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._track(self.connection, add=False)

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionError, TimeoutError, OSError):
            pass  # the client went away (e.g. it timed out on a hang): nothing left to answer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests assert on counters, not on stderr noise

    def do_GET(self) -> None:
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self._send_json(
                200,
                {
                    "object": "list",
                    "data": [{"id": "gpt-4o-mini", "object": "model", "created": 0, "owned_by": "synthgen-fake"}],
                },
            )
        else:
            self._send_json(404, error_body(f"Unknown path {self.path}", "invalid_request_error"))

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            return self._send_json(404, error_body(f"Unknown path {self.path}", "invalid_request_error"))
        try:
            body = json.loads(raw)
        except ValueError:
            return self._send_json(400, error_body("The request body is not valid JSON", "invalid_request_error"))
        fake = self.server.fake
        admitted = fake._admit(body)
        if admitted is None:  # over budget: answer, then shut down (stopping first could drop this answer)
            self._send_json(
                503, error_body("fake server request budget exhausted", "server_error"), {"x-should-retry": "false"}
            )
            self.close_connection = True
            return fake._stop_in_background("max_requests")
        number, agent, fault = admitted
        if fake.delay and fake._sleep(fake.delay):
            return self._drop()  # shut down mid-delay
        self._reply(body, number, agent, fault)

    def _reply(self, body: dict[str, Any], number: int, agent: AgentName, fault: Fault | None) -> None:
        """Answer one chat request: the scripted answer, or what the planned fault says. New faults go here."""
        headers = {} if fault is None or fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
        if fault and fault.kind == "rate_limit":
            message = "Rate limit reached for requests per min. Please try again later."
            return self._send_json(429, error_body(message, "requests", "rate_limit_exceeded"), headers)
        if fault and fault.kind == "server_error":
            message = "The server had an error while processing your request."
            return self._send_json(fault.status, error_body(message, "server_error"), headers)
        if fault and fault.kind == "echo_key":
            key = self.headers.get("Authorization", "").removeprefix("Bearer ")
            if fault.status == 401:
                message = f"Incorrect API key provided: {key}. You can find your API key at the dashboard."
                return self._send_json(401, error_body(message, "invalid_request_error", "invalid_api_key"))
            message = f"The server had an error processing request {{'api_key': '{key}'}}."
            return self._send_json(fault.status, error_body(message, "server_error"))
        if fault and fault.kind == "malformed" and fault.fields is None:
            return self._send_json(200, fault.body)
        if fault and fault.kind == "disconnect":
            return self._drop()
        if fault and fault.kind == "hang" and self.server.fake._sleep(fault.seconds):
            return self._drop()  # shut down mid-hang: leave without answering

        tool_name = (output_tool(body) or {}).get("name")
        answer = scripted_answer(agent, first_user_prompt(body), self.server.fake.scripted)
        if fault and fault.kind == "schema_violation":
            answer = schema_violating(answer)
        if fault and fault.kind == "invented_quote":
            replace_first_quote(answer, fault.quote)
        result = completion(body, number, tool_name, answer)
        if fault and fault.kind == "empty_choices":
            result["choices"] = []
        if fault and fault.kind == "malformed":
            result.update(fault.fields or {})
        if fault and fault.kind == "truncated_json":
            data = json.dumps(result).encode()
            return self._send_bytes(200, data[: len(data) // 2])
        self._send_json(200, result)

    def _send_json(self, status: int, payload: object, headers: dict[str, str] | None = None) -> None:
        self._send_bytes(status, json.dumps(payload).encode(), headers)

    def _send_bytes(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class FakeOpenAIServer:
    """An OpenAI-compatible chat-completions server on 127.0.0.1, serving scripted answers and planned faults.

    Faults come from the plan first (`plan()`, one per request, in order), then from `fault_for`.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        delay: float = 0.0,
        max_requests: int = 2000,
        max_seconds: float = 600.0,
        fault_for: FaultFor | None = None,
        scripted: ScriptedModel | None = None,
    ) -> None:
        self.delay = delay  # seconds before every response
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.fault_for = fault_for
        self.scripted = scripted or ScriptedModel()  # its `decide` drives the supervisor's verdicts
        self._port = port
        self._lock = threading.RLock()
        self._plan: deque[Fault | None] = deque()
        self._served: list[Served] = []
        self._bodies: list[dict[str, Any]] = []
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()  # set first on stop: wakes hangs and delays
        self._stopped = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None
        self.stop_reason: str | None = None  # "stop()", "max_requests" or "max_seconds"

    # -- lifecycle --

    def start(self) -> Self:
        if self._httpd is not None:
            raise RuntimeError("FakeOpenAIServer is already started")
        self._httpd = _HTTPServer((HOST, self._port), _Handler)
        self._httpd.fake = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-openai-{self.port}",
            daemon=True,
        )
        self._thread.start()
        self._timer = threading.Timer(self.max_seconds, self._stop_in_background, args=("max_seconds",))
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self, reason: str = "stop()") -> None:
        """Stop serving and close every connection; safe to call twice and from any thread but the server's."""
        with self._lock:
            if self._stopping.is_set() or self._httpd is None:
                return
            self._stopping.set()
            self.stop_reason = reason
        if self._timer is not None:
            self._timer.cancel()
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:  # idle keep-alive connections would otherwise outlive the server
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._stopped.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server has stopped (by stop() or its bounds); False on timeout."""
        return self._stopped.wait(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FakeOpenAIServer is not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/v1"

    @property
    def running(self) -> bool:
        return self._httpd is not None and not self._stopping.is_set()

    # -- faults --

    def plan(self, *faults: Fault | None) -> None:
        """Apply these to the next requests, one each, in order; None means a valid answer for that request."""
        with self._lock:
            self._plan.extend(faults)

    @property
    def planned(self) -> int:
        """Planned faults not yet consumed."""
        with self._lock:
            return len(self._plan)

    # -- counters (copies, safe to read while serving) --

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._served)

    @property
    def agent_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(Counter(s.agent for s in self._served))

    @property
    def bodies(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._bodies)

    @property
    def served(self) -> list[Served]:
        with self._lock:
            return list(self._served)

    # -- used by the handler --

    def _admit(self, body: dict[str, Any]) -> tuple[int, AgentName, Fault | None] | None:
        """Count one chat request and pick its fault; None once the request budget is spent."""
        agent = agent_of(body)
        with self._lock:  # reentrant: fault_for may read the counters
            number = len(self._served) + 1
            if number > self.max_requests:
                fault: Fault | None = None
            else:
                if self._plan:  # a planned None is a valid answer, not a question for fault_for
                    fault = self._plan.popleft()
                elif self.fault_for is not None:
                    fault = self.fault_for(number, body)
                else:
                    fault = None
                self._served.append(Served(number, agent, fault.kind if fault else None))
                self._bodies.append(body)
        if number > self.max_requests:
            return None  # the handler answers 503, then stops the server
        return number, agent, fault

    def _sleep(self, seconds: float) -> bool:
        """Sleep, waking early on shutdown; True if the server is stopping."""
        return self._stopping.wait(seconds)

    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def _stop_in_background(self, reason: str) -> None:
        # stop() waits for serve_forever to return, so a handler thread must not call it inline and wait
        threading.Thread(target=self.stop, args=(reason,), daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m synthgen.testing.fake_openai",
        description="Serve scripted OpenAI-compatible chat completions on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=0, help="port to bind on 127.0.0.1 (default: a free one)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before each response")
    parser.add_argument("--max-requests", type=int, default=2000, help="stop after this many chat requests")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="stop after this many seconds")
    args = parser.parse_args(argv)
    server = FakeOpenAIServer(
        port=args.port, delay=args.delay, max_requests=args.max_requests, max_seconds=args.max_seconds
    ).start()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        server._stop_in_background(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(server.base_url, flush=True)
    while not server.wait(0.2):  # short waits so signal handlers run promptly
        pass
    print(
        f"fake_openai: stopped ({server.stop_reason}) after {server.request_count} requests",
        file=sys.stderr,
        flush=True,
    )


if __name__ == "__main__":
    main()
