"""Retries, adaptive concurrency and isolated item failures, against the fault-injecting fake server.

Three layers, each tested on its own and then through whole CLI runs over HTTP:
- the transport (retries.py): which faults are retried, how often, how long it waits, what surfaces at the end;
- the runner: what a spent retry budget means for one item (a reason code) or for the run (ModelCallError);
- the pipeline (failures.py): a failed item is rejected and the run goes on, until more than
  --max-failure-rate of a stage fails; then one line, exit 1, and a re-run resumes.
"""

import asyncio
import functools
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pydantic_ai.models
import pytest
from pydantic import BaseModel
from pydantic_ai import Agent, ModelSettings
from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelContextWindowExceededError,
    ModelHTTPError,
    ModelQuotaExceededError,
    ModelRateLimitError,
    ModelServerError,
    ModelTimeoutError,
)
from pydantic_ai.messages import ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from typer.testing import CliRunner

from synthgen.errors import ModelCallError
from synthgen.orchestrator.cli import app as cli
from synthgen.orchestrator.cli.app import app
from synthgen.orchestrator.llm.resolve import resolve_model
from synthgen.orchestrator.llm.retries import AdaptiveLimiter, RetryPolicy, item_failure, transient_kind
from synthgen.orchestrator.run.failures import FailureBudget, StageFailed
from synthgen.orchestrator.run.items import Item, Rejected, Stage, StageContext
from synthgen.orchestrator.run.runner import ItemFailed, ModelRunner
from synthgen.schemas.drafts import SupervisorReview
from synthgen.testing.fake_openai import FakeOpenAIServer, Fault, agent_of, only_for

PROMPT = "Give one verdict for each of these ids: ex_0123456789ab."
# Short waits so the suite stays fast; the defaults (0.5 s doubling, 120 s budgets) are measured in the docs.
FAST = RetryPolicy(max_attempts=3, max_wait=5.0, timeout=0.5, initial_delay=0.01, max_delay=0.05)
DATA_FILES = ["use_cases.json", "policies.json", "decisions.json", "test_cases.json", "dataset.jsonl"]


@pytest.fixture
def allow_model_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    # Real HTTP models, but only against the local fake server of the test.
    monkeypatch.setattr(pydantic_ai.models, "ALLOW_MODEL_REQUESTS", True)


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(max_requests=400, max_seconds=120) as fake:
        yield fake


def http_agent(server: FakeOpenAIServer, policy: RetryPolicy = FAST) -> Agent[None, SupervisorReview]:
    """An agent on the real OpenAI chat model, resolved the way `--base-url` resolves it."""
    model = resolve_model("gpt-4o-mini", server.base_url, retry=policy).model
    return Agent(model, output_type=SupervisorReview, retries=1, name="supervisor")


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    try:
        return call(), time.monotonic() - started
    except Exception as err:  # noqa: BLE001 - returned for the test to inspect
        return err, time.monotonic() - started


# --- The transport: what is retried, how often, how long ------------------------------------------


# 200s that are not usable chat completions (issue 16): retried, then one reason code.
MALFORMED = [
    pytest.param(Fault.malformed(choices=[None]), id="choices-null"),
    pytest.param(Fault.malformed(choices=5), id="choices-5"),
    pytest.param(Fault.malformed(choices="nope"), id="choices-string"),
    pytest.param(Fault.malformed(choices=[1]), id="choices-1"),
    pytest.param(Fault.malformed(choices=[{"index": 0, "message": None, "finish_reason": "stop"}]), id="message-null"),
    pytest.param(
        Fault.malformed(usage={"prompt_tokens": 10**30, "completion_tokens": 1, "total_tokens": 10**30}),
        id="usage-1e30",
    ),
    pytest.param(Fault.malformed({"error": {"message": "upstream failed", "type": "server_error"}}), id="error-body"),
    pytest.param(Fault.malformed({}), id="empty-object"),
    pytest.param(Fault.malformed([1, 2]), id="a-list"),
]

TRANSIENT = [
    *MALFORMED,
    pytest.param(Fault.rate_limit(), id="429"),
    pytest.param(Fault.rate_limit(retry_after=0.05), id="429-retry-after"),
    pytest.param(Fault.server_error(500), id="500"),
    pytest.param(Fault.server_error(502), id="502"),
    pytest.param(Fault.server_error(503, retry_after=0.05), id="503-retry-after"),
    pytest.param(Fault.hang(10), id="hang-past-timeout"),
    pytest.param(Fault.disconnect(), id="dropped-connection"),
    pytest.param(Fault.truncated_json(), id="truncated-json"),
    pytest.param(Fault.empty_choices(), id="empty-choices"),
]


@pytest.mark.usefixtures("allow_model_requests")
@pytest.mark.parametrize("fault", TRANSIENT)
def test_one_transient_fault_costs_one_more_attempt(server: FakeOpenAIServer, fault: Fault) -> None:
    server.plan(fault)
    result, seconds = timed(lambda: http_agent(server).run_sync(PROMPT))
    assert not isinstance(result, Exception), result
    assert result.output.verdicts[0].item_id == "ex_0123456789ab"
    assert result.usage.requests == 1  # the retry happened below pydantic-ai: one model request
    assert server.request_count == 2
    assert server.bodies[0] == server.bodies[1]  # the same request, sent again
    floor = FAST.timeout if fault.kind == "hang" else (fault.retry_after or 0)
    assert floor <= seconds < floor + 1.5


@pytest.mark.usefixtures("allow_model_requests")
def test_retry_after_is_honoured_to_the_fraction_of_a_second(server: FakeOpenAIServer) -> None:
    server.plan(Fault.rate_limit(retry_after=0.4))
    _, seconds = timed(lambda: http_agent(server).run_sync(PROMPT))
    assert server.request_count == 2
    assert 0.4 <= seconds < 0.4 * 1.1 + 0.4  # never earlier than asked; jitter adds at most 10%


EXHAUSTED = [
    pytest.param(Fault.rate_limit(), ModelRateLimitError, id="429"),
    pytest.param(Fault.server_error(502), ModelServerError, id="502"),
    pytest.param(Fault.hang(10), ModelTimeoutError, id="hang"),
    pytest.param(Fault.disconnect(), ModelConnectionError, id="dropped-connection"),
    pytest.param(Fault.truncated_json(), ModelAPIError, id="truncated-json"),
    pytest.param(Fault.empty_choices(), IndexError, id="empty-choices"),  # pydantic-ai#7909; the runner maps it
]


@pytest.mark.usefixtures("allow_model_requests")
@pytest.mark.parametrize(("fault", "error"), EXHAUSTED)
def test_spent_attempts_surface_as_the_usual_error(
    server: FakeOpenAIServer, fault: Fault, error: type[Exception]
) -> None:
    server.plan(*[fault] * 10)
    result, _ = timed(lambda: http_agent(server).run_sync(PROMPT))
    assert isinstance(result, error), result
    # Exactly max_attempts hits: the openai SDK's own retries are off, so the two never multiply (3 x 3 = 9).
    assert server.request_count == FAST.max_attempts


@pytest.mark.usefixtures("allow_model_requests")
def test_a_retry_after_longer_than_the_wait_budget_gives_up_at_once(server: FakeOpenAIServer) -> None:
    server.plan(Fault.rate_limit(retry_after=30))
    policy = RetryPolicy(max_attempts=5, max_wait=2, timeout=0.5)
    result, seconds = timed(lambda: http_agent(server, policy).run_sync(PROMPT))
    assert isinstance(result, ModelRateLimitError) and result.retry_after == 30
    assert server.request_count == 1 and seconds < 1  # no early retry, and no 30 s wait either


@pytest.mark.usefixtures("allow_model_requests")
def test_the_waits_of_one_request_are_bounded_in_total(server: FakeOpenAIServer) -> None:
    server.plan(*[Fault.rate_limit(retry_after=0.2)] * 10)
    policy = RetryPolicy(max_attempts=10, max_wait=0.5, timeout=0.5)
    result, seconds = timed(lambda: http_agent(server, policy).run_sync(PROMPT))
    assert isinstance(result, ModelRateLimitError)
    assert server.request_count == 3  # waits 0.2 + 0.2; a third would pass 0.5 s
    assert 0.4 <= seconds < 1.2


def _response(status: int, body: object, headers: dict[str, str] | None = None, ctype: str = "application/json"):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")
    return httpx2.Response(status, content=content, headers={"content-type": ctype, **(headers or {})}, request=request)


@pytest.mark.parametrize(
    ("response", "kind"),
    [
        (_response(429, {"error": {"code": "rate_limit_exceeded"}}), "rate_limited"),
        (_response(429, {"error": {"code": "insufficient_quota"}}), None),  # waiting won't buy credits
        (_response(503, {}, {"x-should-retry": "false"}), None),  # the server says no
        (_response(529, {}), "server_error"),
        (_response(408, {}), "server_error"),
        (_response(400, {"error": {"code": "invalid_request"}}), None),
        (_response(401, {}), None),
        (_response(200, b'{"id": "chatcmpl-1", "choi'), "truncated_response"),
        (_response(200, {"object": "chat.completion", "choices": []}), "empty_response"),
        (_response(200, {"object": "chat.completion", "choices": [{"index": 0, "message": {}}]}), None),
        (_response(200, {"object": "chat.completion", "choices": [{"index": 0}]}), "bad_response"),
        (_response(200, {"choices": [{"message": {}}], "usage": {"prompt_tokens": -1}}), "bad_response"),
        (_response(200, {"choices": [{"message": {}}], "usage": {"prompt_tokens": 10**10}}), "bad_response"),
        (_response(200, b"data: {}\n\n", ctype="text/event-stream"), None),  # streams are left alone
    ],
)
def test_which_responses_are_transient(response: httpx2.Response, kind: str | None) -> None:
    assert asyncio.run(transient_kind(response)) == kind


# --- The runner: one item's bad luck, or the run's end ---------------------------------------------


def _runner(model: Any, concurrency: int = 2) -> ModelRunner:
    return ModelRunner(model, ModelSettings(), AdaptiveLimiter(concurrency))


@pytest.mark.usefixtures("allow_model_requests")
@pytest.mark.parametrize(
    ("fault", "reason_code"),
    [
        (Fault.rate_limit(), "model_rate_limited"),
        (Fault.server_error(500), "model_server_error"),
        (Fault.hang(10), "model_timeout"),
        (Fault.disconnect(), "model_connection_error"),
        (Fault.truncated_json(), "model_bad_response"),
        (Fault.empty_choices(), "model_empty_response"),
        (Fault.schema_violation(), "supervisor_invalid_output"),  # the agent's own retries, then the item
        *[pytest.param(m.values[0], "model_bad_response", id=m.id) for m in MALFORMED],
    ],
)
def test_an_item_whose_retries_are_spent_fails_alone_with_a_reason_code(
    server: FakeOpenAIServer, fault: Fault, reason_code: str
) -> None:
    agent = http_agent(server)
    runner = _runner(agent.model)
    server.plan(*[fault] * 10)
    with pytest.raises(ItemFailed) as failed:
        asyncio.run(runner.run(agent, PROMPT, None, "supervise", "review of ex_0123456789ab"))
    assert failed.value.reason_code == reason_code
    assert str(failed.value).startswith("review of ex_0123456789ab: ")
    if fault.kind not in ("schema_violation",):
        assert f"after {FAST.max_attempts} attempt(s)" in str(failed.value)


def _raising(error: BaseException) -> FunctionModel:
    def respond(messages: Any, info: AgentInfo) -> ModelResponse:
        raise error

    return FunctionModel(respond, model_name="test")


@pytest.mark.parametrize(
    "error",
    [
        ModelAuthenticationError("gpt-4o-mini", "Incorrect API key provided"),
        ModelQuotaExceededError("gpt-4o-mini", "You exceeded your current quota"),
        ModelHTTPError(404, "gpt-4o-mini", {"error": "model not found"}),
        ModelHTTPError(400, "gpt-4o-mini", {"error": "unsupported parameter"}),
    ],
    ids=["auth", "quota", "404", "400"],
)
def test_errors_no_retry_can_fix_stop_the_run(error: Exception) -> None:
    agent = Agent(_raising(error), output_type=SupervisorReview, name="supervisor")
    with pytest.raises(ModelCallError, match=r"^model call for review failed: .*check the model and its server"):
        asyncio.run(_runner(agent.model).run(agent, PROMPT, None, "supervise", "review"))


@pytest.mark.parametrize(
    ("error", "reason_code"),
    [
        (ModelContextWindowExceededError("gpt-4o-mini", "maximum context length"), "model_context_window_exceeded"),
        (ModelHTTPError(503, "gpt-4o-mini", {}), "model_server_error"),
        (ModelHTTPError(429, "gpt-4o-mini", {}), "model_rate_limited"),
        (ModelAPIError("gpt-4o-mini", "Failed to decode response as JSON"), "model_bad_response"),
    ],
)
def test_item_failure_reason_codes(error: Exception, reason_code: str) -> None:
    failure = item_failure(error)
    assert failure is not None and failure.reason_code == reason_code


def test_an_index_error_of_our_own_is_a_bug_not_an_item_failure() -> None:
    class Out(BaseModel):
        x: int

    def respond(messages: Any, info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, {"x": 1})])

    agent = Agent(FunctionModel(respond), output_type=Out, name="writer")

    @agent.output_validator
    def broken(out: Out) -> Out:
        found: list[Out] = [o for o in [out] if o.x > 1]
        return found[0]  # a bug in a validator must crash loudly, not be filed as an empty response

    runner = _runner(agent.model, concurrency=1)
    with pytest.raises(IndexError):
        asyncio.run(runner.run(agent, "go", None, "write", "example"))


# --- Adaptive concurrency --------------------------------------------------------------------------


def test_the_limit_halves_once_per_burst_of_429s_and_climbs_back() -> None:
    limiter = AdaptiveLimiter(8)
    burst = limiter.generation
    for _ in range(5):  # five calls started together all see a 429: one decrease
        limiter.rate_limited(burst)
    assert limiter.limit == 4
    limiter.rate_limited(limiter.generation)  # a 429 of an attempt started after the decrease
    limiter.rate_limited(limiter.generation)
    limiter.rate_limited(limiter.generation)  # never below one
    assert limiter.limit == 1
    for _ in range(1 + 2 + 3 + 4 + 5 + 6 + 7 + 10):  # `limit` successes in a row raise it by one
        limiter.succeeded()
    assert limiter.changes == [4, 2, 1, 2, 3, 4, 5, 6, 7, 8]
    assert limiter.limit == limiter.ceiling == 8


def test_the_limiter_admits_no_more_than_its_limit_and_survives_cancellation() -> None:
    async def scenario() -> tuple[int, int, int]:
        limiter = AdaptiveLimiter(4)
        running = 0
        most = 0

        async def call(seconds: float) -> None:
            nonlocal running, most
            async with limiter.slot():
                running += 1
                most = max(most, running)
                await asyncio.sleep(seconds)
                running -= 1

        first = [asyncio.create_task(call(0.05)) for _ in range(8)]
        await asyncio.sleep(0.01)
        limiter.rate_limited(limiter.generation)  # 4 -> 2 while four are in flight
        waiting = asyncio.create_task(call(0.01))
        await asyncio.sleep(0)
        waiting.cancel()  # a cancelled waiter must not keep or lose a slot
        await asyncio.gather(*first)
        most_before = most
        most = 0
        await asyncio.gather(*[call(0.01) for _ in range(6)])
        return most_before, most, limiter.in_flight

    most_before, most_after, in_flight = asyncio.run(scenario())
    assert most_before == 4  # lowering the limit never interrupts calls in flight
    assert most_after == 2 and in_flight == 0  # the lowered limit holds (no HTTP here, so no successes raise it)


@pytest.mark.usefixtures("allow_model_requests")
def test_concurrency_drops_on_429s_and_recovers_against_the_server() -> None:
    with FakeOpenAIServer(delay=0.05, max_requests=200, max_seconds=60) as server:
        server.plan(*[Fault.rate_limit(retry_after=0.05)] * 4)  # the first round of four calls
        agent = http_agent(server)
        runner = _runner(agent.model, concurrency=4)

        async def review(n: int) -> SupervisorReview:
            return await runner.run(agent, PROMPT, None, "supervise", f"review {n}")

        async def all_reviews() -> list[SupervisorReview]:
            return await asyncio.gather(*(review(n) for n in range(24)))

        results = asyncio.run(all_reviews())
    limiter = runner.limiter
    assert len(results) == 24 and server.request_count == 28
    assert limiter.changes[0] == 2  # the burst of four 429s halved it once
    assert limiter.changes[-1] == 4 and limiter.limit == 4  # then successes brought it back
    assert limiter.peak == 4


# --- Whole runs through the CLI, over HTTP --------------------------------------------------------


cli_runner = CliRunner()


@pytest.fixture
def fast_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real HTTP from the CLI to the fake server, with short backoffs (the flags set the rest)."""
    monkeypatch.setattr(pydantic_ai.models, "ALLOW_MODEL_REQUESTS", True)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.setattr(cli, "RetryPolicy", functools.partial(RetryPolicy, initial_delay=0.01, max_delay=0.05))


def run(server: FakeOpenAIServer, doc: Path, out: Path, *flags: str) -> Any:
    args = ["agent", "run", str(doc), "--base-url", server.base_url, "--model", "gpt-4o-mini", "--out", str(out),
            "--timeout", "0.5", *flags]  # fmt: skip
    return cli_runner.invoke(app, args)


def data(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in DATA_FILES}


def manifest(out: Path) -> dict[str, Any]:
    return json.loads((out / "manifest.json").read_text())


@pytest.mark.usefixtures("fast_cli")
def test_a_run_through_every_kind_of_fault_writes_the_same_dataset(
    corpus_dir: Path, tmp_path: Path, server: FakeOpenAIServer
) -> None:
    doc = corpus_dir / "tau2_retail_policy.md"
    flags = ["--max-examples", "10", "--concurrency", "1"]
    reference = run(server, doc, tmp_path / "reference", *flags)
    assert reference.exit_code == 0, reference.stderr
    requests = server.request_count
    faults = [Fault.rate_limit(), Fault.rate_limit(retry_after=0.05), Fault.server_error(500),
              Fault.server_error(502), Fault.server_error(503, retry_after=0.05), Fault.hang(10), Fault.disconnect(),
              Fault.truncated_json(), Fault.empty_choices(), Fault.schema_violation()]  # fmt: skip
    server.plan(*(step for fault in faults for step in (fault, None)))  # each fault, then a good answer
    before = server.request_count
    faulty = run(server, doc, tmp_path / "faulty", *flags)
    assert faulty.exit_code == 0, faulty.stderr
    assert server.planned == 0 and server.request_count - before == requests + len(faults)
    assert data(tmp_path / "faulty") == data(tmp_path / "reference")
    # Nothing rejected that the reference run did not reject too (not-a-rule candidates, examples over the cap).
    reasons = {name: stage["reasons"] for name, stage in manifest(tmp_path / "faulty")["stages"].items()}
    assert reasons == {name: stage["reasons"] for name, stage in manifest(tmp_path / "reference")["stages"].items()}
    for said in ["rate limited (HTTP 429)", "server error (HTTP 500)", "server error (HTTP 502)", "server error (HTTP 503)",
                 "timed out", "connection dropped", "response cut short (invalid JSON)",
                 "empty response (no choices)"]:  # fmt: skip
        assert re.search(rf"^synthgen: .*: {re.escape(said)}; retrying in \d+\.\d+ s \(attempt 2 of 5\)$",
                         faulty.stderr, re.MULTILINE), said  # fmt: skip
    # A schema violation is the agent's business: the model is told what was wrong. (An invented quote in
    # an optional criterion the writer adds is dropped and counted, never sent back: test_agent_example_writer.)
    feedback = [
        json.dumps(body["messages"][-1]) for body in server.bodies[before:] if body["messages"][-1]["role"] == "tool"
    ]
    assert any("unexpected_field" in text for text in feedback)


ISOLATED = [
    pytest.param(Fault.server_error(500), 2, "model_server_error", id="500"),
    pytest.param(Fault.rate_limit(), 2, "model_rate_limited", id="429"),
    pytest.param(Fault.hang(10), 2, "model_timeout", id="hang"),
    pytest.param(Fault.disconnect(), 2, "model_connection_error", id="dropped-connection"),
    pytest.param(Fault.truncated_json(), 2, "model_bad_response", id="truncated-json"),
    pytest.param(Fault.empty_choices(), 2, "model_empty_response", id="empty-choices"),
    pytest.param(Fault.schema_violation(), 3, "example_writer_invalid_output", id="schema-violation"),
    *[pytest.param(m.values[0], 2, "model_bad_response", id=m.id) for m in MALFORMED],
]  # an invented quote in an added criterion drops that criterion: see test_agent_example_writer


@pytest.mark.usefixtures("fast_cli")
@pytest.mark.parametrize(("fault", "count", "reason_code"), ISOLATED)
def test_an_example_that_keeps_failing_is_rejected_and_the_run_goes_on(
    corpus_dir: Path, tmp_path: Path, server: FakeOpenAIServer, fault: Fault, count: int, reason_code: str
) -> None:
    # --max-attempts 2: two HTTP attempts per request; the agent allows 3 answers (retries=2) for invalid output.
    server.fault_for = only_for("example_writer", count, fault)
    out = tmp_path / "run"
    result = run(server, corpus_dir / "tau2_retail_policy.md", out, "--max-examples", "3", "--concurrency", "1",
                 "--max-attempts", "2")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert manifest(out)["stages"]["write"]["reasons"] == {reason_code: 1}
    assert len((out / "dataset.jsonl").read_text().splitlines()) == 2
    rejected = [
        line for line in result.stderr.splitlines() if line.startswith("synthgen: rejected example for test case tc_")
    ]
    assert len(rejected) == 1 and rejected[0].endswith("; try a stronger model")
    assert cli_runner.invoke(app, ["validate", str(out)]).exit_code == 0


@pytest.mark.usefixtures("fast_cli")
def test_a_failed_review_warns_like_any_other_item_and_rejects_its_examples(
    corpus_dir: Path, tmp_path: Path, server: FakeOpenAIServer
) -> None:
    server.fault_for = only_for("supervisor", 1, Fault.server_error(500))  # the first review, its one attempt
    out = tmp_path / "run"
    result = run(server, corpus_dir / "tau2_retail_policy.md", out, "--max-examples", "3", "--max-attempts", "1",
                 "--max-failure-rate", "1")  # fmt: skip
    assert result.exit_code == 1, result.stderr  # the only review failed, so no example is left
    (warning,) = [line for line in result.stderr.splitlines() if line.startswith("synthgen: rejected review of ")]
    assert "server error (HTTP 500)" in warning and warning.endswith("; try a stronger model")
    assert result.stderr.splitlines()[-1].startswith("synthgen: error: no example passed the gates and the supervisor")


@pytest.mark.usefixtures("fast_cli")
def test_a_failed_extraction_batch_is_rejected_and_its_candidates_asked_again(
    corpus_dir: Path, tmp_path: Path, server: FakeOpenAIServer
) -> None:
    server.fault_for = only_for("extraction", 2, Fault.server_error(502))
    out = tmp_path / "run"
    result = run(server, corpus_dir / "tau2_retail_policy.md", out, "--max-examples", "2", "--concurrency", "1",
                 "--max-attempts", "2", "--window-tokens", "300")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    extract = manifest(out)["stages"]["extract"]
    assert extract["reasons"]["model_server_error"] == 1
    assert extract["notes"]["candidate_asked_again"] > 0  # the failed batch's candidates, in a follow-up batch
    decisions = json.loads((out / "decisions.json").read_text())
    assert all(d["decided_by"] == "model" for d in decisions)  # none of them left to the fallback
    assert re.search(
        r"^synthgen: rejected extraction of .* candidates cand_\d+_\d+\.\.cand_\d+_\d+: .*server error \(HTTP 502\) "
        r"after 2 attempt\(s\).*; its candidates are asked again; try a stronger model or a smaller --window-tokens$",
        result.stderr,
        re.MULTILINE,
    )


@pytest.mark.usefixtures("fast_cli")
def test_too_many_failures_stop_the_run_in_one_line_and_the_next_run_resumes(
    corpus_dir: Path, tmp_path: Path, server: FakeOpenAIServer
) -> None:
    server.fault_for = lambda number, body: Fault.server_error(503) if agent_of(body) == "example_writer" else None
    doc, out = corpus_dir / "tau2_retail_policy.md", tmp_path / "run"
    flags = ["--max-examples", "4", "--concurrency", "2", "--max-attempts", "2"]
    failed = run(server, doc, out, *flags)
    assert failed.exit_code == 1
    errors = [line for line in failed.stderr.splitlines() if line.startswith("synthgen: error:")]
    assert len(errors) == 1 and "Traceback" not in failed.stderr
    assert re.fullmatch(
        r"synthgen: error: write stage: [34] of 4 items failed after their retries \(model_server_error \([34]\)\), "
        r"more than --max-failure-rate 0\.5 allows; the answers received so far are kept in .*/calls\.jsonl: fix the "
        r"cause \(see the warnings above\) and run the same command again to resume",
        errors[0],
    )
    assert not any((out / name).exists() for name in [*DATA_FILES, "manifest.json"])
    recorded = [json.loads(line)["stage"] for line in (out / "calls.jsonl").read_text().splitlines()]
    assert set(recorded) == {"extract", "design"}

    server.fault_for = None  # the provider is back
    before = len(server.served)
    resumed = run(server, doc, out, *flags)
    assert resumed.exit_code == 0, resumed.stderr
    assert f"resuming: {len(recorded)} recorded call(s)" in resumed.stderr
    asked = {s.agent for s in server.served[before:]}
    assert asked == {"example_writer", "supervisor"}  # nothing recorded was asked again
    assert len((out / "dataset.jsonl").read_text().splitlines()) == 4


@pytest.mark.usefixtures("fast_cli")
def test_max_failure_rate_zero_stops_at_the_first_failed_item(
    corpus_dir: Path, tmp_path: Path, server: FakeOpenAIServer
) -> None:
    server.fault_for = only_for("example_writer", 2, Fault.server_error(500))
    result = run(server, corpus_dir / "tau2_retail_policy.md", tmp_path / "run", "--max-examples", "3",
                 "--concurrency", "1", "--max-attempts", "2", "--max-failure-rate", "0")  # fmt: skip
    assert result.exit_code == 1
    assert "synthgen: error: write stage: 1 of 3 items failed after their retries (model_server_error (1))" in (
        result.stderr
    )


def test_failure_budget_stops_as_soon_as_the_share_is_certain() -> None:
    budget = FailureBudget("write", 0.5, planned=4)
    for _ in range(4):
        budget.attempt()
    budget.fail("model_timeout")
    budget.fail("model_timeout")  # 2 of 4 = 50%: not more than the rate
    with pytest.raises(StageFailed, match=r"^write stage: 3 of 4 items failed"):
        budget.fail("model_server_error")
    unplanned = FailureBudget("supervise", 0.5)
    unplanned.attempt()
    unplanned.fail("supervisor_invalid_output")  # size unknown: only the end of the stage decides
    with pytest.raises(StageFailed, match=r"^supervise stage: 1 of 1 items failed"):
        unplanned.check()
    with pytest.raises(ValueError):
        FailureBudget("write", 1.5)


def _invalid_reviews() -> Agent[None, SupervisorReview]:
    def respond(messages: Any, info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, {"verdicts": "not a list"})])

    return Agent(FunctionModel(respond), output_type=SupervisorReview, name="supervisor", retries=1)


def _review_item(agent: Agent[None, SupervisorReview], stage: Stage) -> Any:
    item = Item("doc_0123456789ab", "review", "review ex_0123456789ab", "review of ex_0123456789ab")
    return stage.run(item, lambda: stage.runner.run(agent, PROMPT, None, "supervise", item.name), "try again")


def test_an_item_the_model_fails_on_is_rejected_loudly_and_counted_against_the_stage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    agent = _invalid_reviews()
    context = StageContext(_runner(agent.model), max_failure_rate=0.0)

    async def review_once() -> Any:
        with context.stage("supervise", 1, planned=False) as stage:
            return await _review_item(agent, stage)

    with pytest.raises(StageFailed) as stopped:
        asyncio.run(review_once())
    assert "supervise stage: 1 of 1 items failed after their retries (supervisor_invalid_output (1))" in str(
        stopped.value
    )
    # Every stage's failed item warns the same way, the supervisor's review included.
    (warning,) = [r for r in caplog.records if r.levelname == "WARNING"]
    assert warning.getMessage().startswith("rejected review of ex_0123456789ab: Exceeded maximum output retries")
    assert warning.getMessage().endswith("; try again")
    assert (warning.event, warning.reason_code) == ("rejected", "supervisor_invalid_output")  # type: ignore[attr-defined]

    async def review_planned() -> Any:
        with context.stage("supervise", 1) as stage:
            return await _review_item(agent, stage)

    with pytest.raises(StageFailed):  # a planned stage stops at the first failure past the rate
        asyncio.run(review_planned())


def test_under_the_rate_a_failed_item_is_a_rejection_with_its_reason() -> None:
    agent = _invalid_reviews()
    context = StageContext(_runner(agent.model), max_failure_rate=1.0)

    async def review_once() -> Any:
        with context.stage("supervise", 1, planned=False) as stage:
            return await _review_item(agent, stage)

    rejected = asyncio.run(review_once())
    assert isinstance(rejected, Rejected)
    assert (rejected.item, rejected.reason_code) == ("review of ex_0123456789ab", "supervisor_invalid_output")
    assert context.progress.counts("supervise").done == 1


@pytest.mark.usefixtures("fast_cli")
def test_a_document_whose_test_design_fails_is_left_out_and_the_others_go_on(
    corpus_dir: Path, tmp_path: Path, server: FakeOpenAIServer
) -> None:
    server.fault_for = lambda number, body: (
        Fault.server_error(500) if agent_of(body) == "designer" and "github" in json.dumps(body) else None
    )
    out = tmp_path / "run"
    args = ["agent", "run", str(corpus_dir / "tau2_retail_policy.md"), str(corpus_dir / "github_acceptable_use.md"),
            "--base-url", server.base_url, "--model", "gpt-4o-mini", "--out", str(out), "--max-examples", "3",
            "--max-attempts", "2"]  # fmt: skip
    result = cli_runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr  # 1 of 2 designs failed: not more than --max-failure-rate 0.5
    design = manifest(out)["stages"]["design"]
    assert design["reasons"]["model_server_error"] == 1
    assert re.search(r"^synthgen: rejected test design for .*github_acceptable_use\.md: server error \(HTTP 500\) "
                     r"after 2 attempt\(s\)", result.stderr, re.MULTILINE)  # fmt: skip
    documents = {
        json.loads(line)["metadata"]["document_id"] for line in (out / "dataset.jsonl").read_text().splitlines()
    }
    assert len(documents) == 1  # every example is from the document that was designed
    assert cli_runner.invoke(app, ["validate", str(out)]).exit_code == 0


# --- The run lock (issue 16) --------------------------------------------------------------------


def test_a_forced_run_cannot_take_over_a_directory_another_run_is_using(corpus_dir: Path, tmp_path: Path) -> None:
    doc, out = corpus_dir / "tau2_retail_policy.md", tmp_path / "run"
    reached, release = threading.Event(), threading.Event()

    def hold_the_second_request(number: int, body: dict[str, Any]) -> None:
        if number == 2:  # the first run is under way, its answers recorded so far
            reached.set()
            release.wait(timeout=30)

    with FakeOpenAIServer(max_seconds=120, fault_for=hold_the_second_request) as server:
        command = [sys.executable, "-m", "synthgen", "agent", "run", str(doc), "--out", str(out), "--base-url",
                   server.base_url, "--model", "gpt-4o-mini"]  # fmt: skip
        env = {**os.environ, "OPENAI_API_KEY": "sk-test-not-a-real-key"}
        first = subprocess.Popen([*command, "--max-examples", "3", "--concurrency", "1"], env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        try:
            assert reached.wait(timeout=60), "the first run never got to its second request"
            second = subprocess.run([*command, "--max-examples", "2", "--force"], env=env, capture_output=True,
                                    text=True, timeout=90, check=False)  # fmt: skip
            release.set()
            _, stderr = first.communicate(timeout=120)
        finally:
            release.set()
            if first.poll() is None:
                first.kill()
        requests = server.request_count
    assert second.returncode == 1 and second.stdout == ""
    assert second.stderr.splitlines() == [
        f"synthgen: error: another synthgen run is using {out}: wait for it or choose another --out"
    ]
    assert first.returncode == 0, stderr
    assert len((out / "calls.jsonl").read_text().splitlines()) == requests  # only the first run's calls, once each
    assert json.loads((out / "manifest.json").read_text())["config"]["max_examples"] == 3
    assert cli_runner.invoke(app, ["validate", str(out)]).exit_code == 0


@pytest.mark.usefixtures("fast_cli")
def test_a_resume_against_the_same_model_on_another_port_replays_what_was_recorded(
    corpus_dir: Path, tmp_path: Path, server: FakeOpenAIServer
) -> None:
    doc, out = corpus_dir / "tau2_retail_policy.md", tmp_path / "run"
    first = run(server, doc, out, "--max-examples", "2")
    assert first.exit_code == 0, first.stderr
    made = data(out)
    with FakeOpenAIServer(max_seconds=60) as moved:
        args = ["agent", "run", str(doc), "--base-url", moved.base_url + "/", "--model", "gpt-4o-mini", "--out",
                str(out), "--max-examples", "2"]  # fmt: skip
        again = cli_runner.invoke(app, args)
        assert again.exit_code == 0, again.stderr
        assert moved.request_count == 0  # every answer replayed from calls.jsonl
    assert data(out) == made
    assert manifest(out)["config"]["base_url"] == moved.base_url + "/"  # where the model was, recorded


def test_a_base_url_password_is_not_recorded() -> None:
    from synthgen.orchestrator.llm.resolve import ResolvedModel
    from synthgen.orchestrator.run.pipeline import RunOptions, run_config

    model = ResolvedModel(FunctionModel(lambda messages, info: ModelResponse(parts=[])), "openai-chat:m",
                          "https://user:hunter2hunter2@models.example/v1")  # fmt: skip
    assert run_config(model, RunOptions()).base_url == "https://user:[REDACTED]@models.example/v1"
