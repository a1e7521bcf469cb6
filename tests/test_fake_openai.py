"""The fake OpenAI server, only as far as the product's tests rely on it.

tests/test_reliability.py, test_interrupts.py, test_budget.py and test_resume_crash.py assert how
synthgen handles each fault; they prove something only if the fault really happens on the wire.
So this file checks that each fault produces its response (or its silence), that answers are the
scripted agent's, and that the server can never outlive a test or listen beyond 127.0.0.1.
"""

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from pydantic import BaseModel, ValidationError

from synthgen.schemas.drafts import DecisionsDraft, DesignDraft, ExampleDraft, SituationsDraft, SupervisorReview
from synthgen.testing.fake_openai import INVENTED_QUOTE, FakeOpenAIServer, Fault, agent_of
from synthgen.testing.scripted import example_answer, extraction_answer

EXTRACTION_PROMPT = """Document: policy.md

## Refunds
[1] Customers must keep the receipt for every refund.
[2] Gift cards are never refundable.

Give exactly 2 decisions, for candidates 1 to 2, in order."""
EXAMPLE_PROMPT = """Expected outcome: refuse (decline the request and say which rule prevents it)
pol_0123456789 [obligation; applies here]: Customers must keep the receipt for every refund.
Source lines:
3 | Customers must keep the receipt for every refund."""


def chat_body(output_type: type[BaseModel] = DecisionsDraft, prompt: str = EXTRACTION_PROMPT) -> dict[str, Any]:
    """A request shaped like the one OpenAIChatModel sends for an agent with this output type."""
    return {
        "model": "gpt-4o-mini",
        "messages": [{"role": "system", "content": "Extract."}, {"role": "user", "content": prompt}],
        "tool_choice": "required",
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "final_result",
                    "description": "The final response",
                    "parameters": output_type.model_json_schema(),
                },
            }
        ],
    }


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(max_requests=50, max_seconds=60) as fake:
        yield fake


@pytest.fixture
def http(server: FakeOpenAIServer) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=server.base_url, timeout=5) as client:
        yield client


def tool_arguments(completion: dict[str, Any]) -> dict[str, Any]:
    call = completion["choices"][0]["message"]["tool_calls"][0]
    assert call["type"] == "function" and call["function"]["name"] == "final_result"
    return json.loads(call["function"]["arguments"])


# --- On the wire ---


def test_a_valid_request_gets_the_scripted_answer_as_a_tool_call(server: FakeOpenAIServer, http: httpx2.Client) -> None:
    body = chat_body()
    response = http.post("/chat/completions", json=body)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    completion = response.json()
    assert completion["id"].startswith("chatcmpl-") and completion["object"] == "chat.completion"
    assert completion["model"] == "gpt-4o-mini" and abs(completion["created"] - time.time()) < 60
    assert completion["choices"][0]["finish_reason"] == "tool_calls"
    assert tool_arguments(completion) == extraction_answer(EXTRACTION_PROMPT)
    DecisionsDraft.model_validate(tool_arguments(completion))
    usage = completion["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert (server.request_count, server.agent_counts, server.bodies) == (1, {"extraction": 1}, [body])


@pytest.mark.parametrize(
    ("output_type", "agent"),
    [
        (DecisionsDraft, "extraction"),
        (SituationsDraft, "use_cases"),
        (DesignDraft, "designer"),
        (ExampleDraft, "example_writer"),
        (SupervisorReview, "supervisor"),
    ],
)
def test_the_agent_is_recognised_by_its_output_schema(output_type: type[BaseModel], agent: str) -> None:
    assert agent_of(chat_body(output_type)) == agent
    assert agent_of({"messages": []}) == "unknown"


def test_models_endpoint_and_unknown_paths(http: httpx2.Client) -> None:
    assert [m["id"] for m in http.get("/models").json()["data"]] == ["gpt-4o-mini"]
    assert http.post("/embeddings", json={}).status_code == 404


@pytest.mark.parametrize(("retry_after", "header"), [(None, None), (1, "1"), (0.25, "0.25")])
def test_rate_limit(
    http: httpx2.Client, server: FakeOpenAIServer, retry_after: float | None, header: str | None
) -> None:
    server.plan(Fault.rate_limit(retry_after=retry_after))
    response = http.post("/chat/completions", json=chat_body())
    assert response.status_code == 429
    assert response.headers.get("retry-after") == header
    assert response.json()["error"]["code"] == "rate_limit_exceeded"


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_error(http: httpx2.Client, server: FakeOpenAIServer, status: int) -> None:
    server.plan(Fault.server_error(status), Fault.server_error(status, retry_after=2))
    response = http.post("/chat/completions", json=chat_body())
    assert response.status_code == status and response.json()["error"]["type"] == "server_error"
    assert "retry-after" not in response.headers
    assert http.post("/chat/completions", json=chat_body()).headers["retry-after"] == "2"


def test_server_error_takes_only_5xx() -> None:
    with pytest.raises(ValueError):
        Fault.server_error(429)


def test_hang_outlasts_the_client_timeout_but_not_shutdown() -> None:
    with FakeOpenAIServer(max_seconds=60) as server:
        server.plan(Fault.hang(30))
        started = time.monotonic()
        with pytest.raises(httpx2.ReadTimeout):
            httpx2.post(f"{server.base_url}/chat/completions", json=chat_body(), timeout=0.3)
        assert time.monotonic() - started < 2
        server.stop()  # the handler is still sleeping in its 30 s hang
    assert time.monotonic() - started < 5


def test_disconnect_closes_without_a_response(http: httpx2.Client, server: FakeOpenAIServer) -> None:
    server.plan(Fault.disconnect())
    with pytest.raises(httpx2.RemoteProtocolError):
        http.post("/chat/completions", json=chat_body())
    assert http.post("/chat/completions", json=chat_body()).status_code == 200  # the next one is served


def test_truncated_json(http: httpx2.Client, server: FakeOpenAIServer) -> None:
    server.plan(Fault.truncated_json())
    response = http.post("/chat/completions", json=chat_body())
    assert response.status_code == 200 and int(response.headers["content-length"]) == len(response.content)
    assert response.text.startswith('{"id": "chatcmpl-')
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_schema_violation_is_valid_json_that_fails_the_output_schema(
    http: httpx2.Client, server: FakeOpenAIServer
) -> None:
    server.plan(Fault.schema_violation())
    arguments = tool_arguments(http.post("/chat/completions", json=chat_body()).json())
    with pytest.raises(ValidationError):
        DecisionsDraft.model_validate(arguments)


def test_invented_quote_replaces_the_first_evidence_quote_only(http: httpx2.Client, server: FakeOpenAIServer) -> None:
    server.plan(Fault.invented_quote())
    arguments = tool_arguments(http.post("/chat/completions", json=chat_body(ExampleDraft, EXAMPLE_PROMPT)).json())
    expected = example_answer(EXAMPLE_PROMPT)
    assert expected["extra_criteria"]  # the scripted answer has evidence to replace
    expected["extra_criteria"][0]["evidence"][0]["quote"] = INVENTED_QUOTE  # type: ignore[index]
    assert arguments == expected
    assert INVENTED_QUOTE not in EXAMPLE_PROMPT


def test_empty_choices(http: httpx2.Client, server: FakeOpenAIServer) -> None:
    server.plan(Fault.empty_choices())
    response = http.post("/chat/completions", json=chat_body())
    assert response.status_code == 200 and response.json()["choices"] == []


def test_plan_is_consumed_in_order_then_fault_for_decides(http: httpx2.Client, server: FakeOpenAIServer) -> None:
    server.fault_for = lambda number, body: Fault.server_error(502) if number % 2 == 0 else None
    server.plan(Fault.rate_limit(), None, Fault.server_error(503))
    statuses = [http.post("/chat/completions", json=chat_body()).status_code for _ in range(6)]
    assert statuses == [429, 200, 503, 502, 200, 502]
    assert [s.fault for s in server.served] == [
        "rate_limit",
        None,
        "server_error",
        "server_error",
        None,
        "server_error",
    ]
    assert server.planned == 0 and server.request_count == 6


def test_binds_loopback_on_a_free_port() -> None:
    with FakeOpenAIServer(max_seconds=60) as first, FakeOpenAIServer(max_seconds=60) as second:
        assert first.base_url == f"http://127.0.0.1:{first.port}/v1" and first.port != second.port
        assert first._httpd is not None and first._httpd.server_address[0] == "127.0.0.1"


def test_stops_by_itself_after_max_requests() -> None:
    with FakeOpenAIServer(max_requests=2, max_seconds=60) as server:
        url = f"{server.base_url}/chat/completions"
        assert [httpx2.post(url, json=chat_body()).status_code for _ in range(2)] == [200, 200]
        over = httpx2.post(url, json=chat_body())
        assert over.status_code == 503 and over.headers["x-should-retry"] == "false"
        assert server.wait(5) and server.stop_reason == "max_requests" and server.request_count == 2
        # Refused, or accepted by a closing socket's backlog and dropped: either way, not served.
        with pytest.raises(httpx2.TransportError):
            httpx2.post(url, json=chat_body())


def test_stops_by_itself_after_max_seconds() -> None:
    server = FakeOpenAIServer(max_seconds=0.2).start()
    assert server.wait(5) and server.stop_reason == "max_seconds" and not server.running
    server.stop()  # a second stop is harmless


def test_stop_closes_idle_keep_alive_connections(server: FakeOpenAIServer, http: httpx2.Client) -> None:
    assert http.post("/chat/completions", json=chat_body()).status_code == 200  # leaves a pooled connection
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2
    with pytest.raises(httpx2.TransportError):  # neither the pooled connection nor a new one is served
        http.post("/chat/completions", json=chat_body())
    assert server.request_count == 1


def test_standalone_module_prints_its_url_and_serves() -> None:
    command = [sys.executable, "-m", "synthgen.testing.fake_openai", "--delay", "0", "--max-seconds", "30"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            base_url = process.stdout.readline().strip()
            assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
            assert httpx2.post(f"{base_url}/chat/completions", json=chat_body(), timeout=5).status_code == 200
        finally:
            process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "stopped (SIGTERM) after 1 requests" in stderr
