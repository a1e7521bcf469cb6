"""Transient model-call failures: one retry policy on the HTTP transport, and concurrency that adapts to 429s.

What is retried, and where:

- **On the wire** (this module): 429 (unless the body says the quota or billing is exhausted), 408, 409,
  500, 502, 503, 504, 529, timeouts, refused or dropped connections, a 200 whose JSON body is cut short,
  a chat completion with an empty `choices` list, and a 200 that is no usable chat completion at all
  (`choices` that are not a list of messages, an error object, absurd token counts). The last kind, once
  its attempts are spent, fails as `BadModelResponse` (reason code `model_bad_response`) instead of
  reaching the SDK, which cannot read it. pydantic-ai's `AsyncHTTPX2TenacityTransport`
  runs the loop (tenacity); the openai SDK's own retries are switched off (`max_retries = 0`) so the
  two never multiply. Waits are exponential with jitter, or what the server's `Retry-After` /
  `retry-after-ms` asks (fractions of a second included), never less. Attempts are bounded by
  `RetryPolicy.max_attempts` and the waits of one request, in total, by `RetryPolicy.max_wait`: when the
  next wait would pass it (a long Retry-After, say), the request gives up at once instead of retrying early.
  A request that gives up hands the last response (or error) to the SDK, so pydantic-ai raises its
  usual categorised error (`ModelRateLimitError`, `ModelTimeoutError`, ...).
- **In the agent** (pydantic-ai): an answer that breaks the output schema or cites a quote that is
  not in the document goes back to the model with the problem named, up to the agent's `retries`.
- **In the run** (`ModelRunner`): what still fails becomes `ItemFailed` with a reason code from
  `item_failure()`, and the stage goes on without that item (see `failures.py`); errors no wait can fix
  (bad key, no quota, unknown model, a rejected request) stop the run.

Concurrency: `AdaptiveLimiter` replaces a fixed semaphore. A 429 halves the number of calls allowed in
flight (at most once per round of calls, so one burst of 429s counts once); each run of `limit`
successful requests raises it by one, up to `--concurrency`.
"""

import asyncio
import json
import logging
import math
import random
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Literal

import httpx2
from openai import OpenAIError
from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelContextWindowExceededError,
    ModelHTTPError,
    ModelNotFoundError,
    ModelQuotaExceededError,
    ModelRateLimitError,
    ModelRequestRejectedError,
    ModelRequestTimeout,
    ModelServerError,
    ModelTimeoutError,
    ModelUnavailableError,
)
from pydantic_ai.models import create_async_httpx2_client
from pydantic_ai.providers.openai import OpenAIProvider
from pydantic_ai.retries import AsyncHTTPX2TenacityTransport, RetryConfig, wait_retry_after
from tenacity import RetryCallState, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter
from tenacity.stop import stop_base

from synthgen.orchestrator.defaults import RetryPolicy
from synthgen.orchestrator.llm.recording import current_call
from synthgen.orchestrator.observe.redact import REDACTED, redact

log = logging.getLogger("synthgen")

Transient = Literal["rate_limited", "server_error", "truncated_response", "empty_response", "bad_response"]
RETRIED_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
_DESCRIBE: dict[str, str] = {
    "rate_limited": "rate limited",
    "server_error": "server error",
    "truncated_response": "response cut short (invalid JSON)",
    "empty_response": "empty response (no choices)",
    "bad_response": "not a chat completion",
}
# More tokens than any model's context holds: a usage count above it is garbage, not a bill.
MAX_USAGE_TOKENS = 10**9


# --- Adaptive concurrency ---------------------------------------------------------------------


@dataclass
class Slot:
    """One admitted agent run: what the transport reports its HTTP attempts to."""

    limiter: "AdaptiveLimiter"
    generation: int  # the limiter's generation when the current attempt started
    attempts: int = 0  # HTTP attempts of the current request
    waited: float = 0.0  # seconds the current request spent waiting between attempts

    def attempt_started(self, first: bool) -> None:
        if first:
            self.attempts, self.waited = 0, 0.0
        self.attempts += 1
        self.generation = self.limiter.generation

    def rate_limited(self) -> None:
        self.limiter.rate_limited(self.generation)

    def succeeded(self) -> None:
        self.limiter.succeeded()


current_slot: ContextVar[Slot | None] = ContextVar("synthgen_limiter_slot", default=None)


@dataclass
class AdaptiveLimiter:
    """A semaphore whose size follows the server: halved on a 429, raised by one after `limit` successes.

    `ceiling` is the configured --concurrency. Lowering the limit never interrupts calls in flight; new
    calls wait until fewer than `limit` are running. Waiters are admitted in arrival order.
    """

    ceiling: int
    floor: int = 1
    limit: int = 0  # set to ceiling
    in_flight: int = 0
    peak: int = 0  # most calls ever in flight at once
    generation: int = 0  # bumped by each decrease: 429s of attempts started before it are the same burst
    changes: list[int] = field(default_factory=list)  # every new limit, in order (for logs and tests)
    _streak: int = 0
    _waiters: deque[asyncio.Future[None]] = field(default_factory=deque)

    def __post_init__(self) -> None:
        if self.ceiling < 1:
            raise ValueError("concurrency must be at least 1")
        self.floor = max(1, min(self.floor, self.ceiling))
        self.limit = self.limit or self.ceiling

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[Slot]:
        await self._acquire()
        slot = Slot(self, self.generation)
        token = current_slot.set(slot)
        try:
            yield slot
        finally:
            current_slot.reset(token)
            self._release()

    async def _acquire(self) -> None:
        if self.in_flight < self.limit and not self._waiters:
            self._admit()
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            while True:
                await future
                if self.in_flight < self.limit:
                    break
                future = asyncio.get_running_loop().create_future()  # woken, but the limit dropped again
                self._waiters.appendleft(future)
        except asyncio.CancelledError:
            if future in self._waiters:
                self._waiters.remove(future)
            else:
                self._wake()  # pass on the wake-up this waiter was given
            raise
        self._admit()

    def _admit(self) -> None:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)

    def _release(self) -> None:
        self.in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        free = self.limit - self.in_flight
        while free > 0 and self._waiters:
            future = self._waiters.popleft()
            if not future.done():
                future.set_result(None)
                free -= 1

    def rate_limited(self, generation: int) -> None:
        """A 429 for an attempt started at `generation`: halve the limit, once per burst."""
        self._streak = 0
        if generation != self.generation or self.limit <= self.floor:
            return
        self.generation += 1
        previous, self.limit = self.limit, max(self.floor, self.limit // 2)
        self.changes.append(self.limit)
        log.info(
            "rate limited: at most %d model call(s) in flight now (was %d)",
            self.limit,
            previous,
            extra={"event": "concurrency", "limit": self.limit},
        )

    def succeeded(self) -> None:
        if self.limit >= self.ceiling:
            return
        self._streak += 1
        if self._streak >= self.limit:
            self._streak = 0
            self.limit += 1
            self.changes.append(self.limit)
            log.debug("model calls succeed again: up to %d in flight", self.limit)
            self._wake()


# --- The retrying transport ---------------------------------------------------------------------


class RetryableResponse(httpx2.HTTPStatusError):
    """A response worth asking for again. Its body has been read, so it can still be handed to the SDK."""

    def __init__(self, kind: Transient, response: httpx2.Response, detail: str = "") -> None:
        what = _DESCRIBE[kind] + (f" (HTTP {response.status_code})" if response.status_code >= 400 else "")
        super().__init__(what + (f": {detail}" if detail else ""), request=response.request, response=response)
        self.kind = kind


class BadModelResponse(ModelAPIError, OpenAIError):
    """A 200 that is still no usable chat completion after every attempt.

    An `OpenAIError`, so the openai SDK passes it on as it is, and a pydantic-ai `ModelAPIError`, so
    the runner treats it like any other failed model call: as the item's bad luck, `model_bad_response`.
    """


_RETRIED_ERRORS = (RetryableResponse, httpx2.TimeoutException, httpx2.NetworkError, httpx2.RemoteProtocolError)


async def transient_kind(response: httpx2.Response) -> Transient | None:
    """Why this response is worth retrying, or None. Reads the body of error and JSON responses."""
    kind, _ = await transient_problem(response)
    return kind


async def transient_problem(response: httpx2.Response) -> tuple[Transient | None, str]:
    """Why this response is worth retrying (or None) and, for a bad completion, what is wrong with it."""
    status = response.status_code
    if status in RETRIED_STATUSES:
        await response.aread()
        if response.headers.get("x-should-retry") == "false":
            return None, ""  # the server says so (the openai SDK obeys this header too)
        if status == 429:
            return (None if _error_code(response) == "insufficient_quota" else "rate_limited"), ""
        return "server_error", ""
    if status != 200 or "json" not in response.headers.get("content-type", ""):
        return None, ""  # other errors are not transient; streams are left alone
    await response.aread()
    try:
        body = json.loads(response.content)
    except ValueError:
        return "truncated_response", ""
    if not response.request.url.path.endswith("/chat/completions"):
        return None, ""  # other endpoints (the Responses API) have other shapes
    if isinstance(body, dict) and body.get("choices") == []:
        return "empty_response", ""
    problem = completion_problem(body)
    return ("bad_response", problem) if problem else (None, "")


def completion_problem(body: object) -> str | None:
    """What makes a 200's JSON unusable as a chat completion, or None when the SDK can read it."""
    if not isinstance(body, dict):
        return f"the body is a JSON {type(body).__name__}, not an object"
    if body.get("error") is not None:
        return "the body is an error object"
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        return "no list of choices" if "choices" not in body else f"choices is {_shown(choices)}, not a list"
    if not all(isinstance(choice, dict) and isinstance(choice.get("message"), dict) for choice in choices):
        return f"a choice without a message: {_shown(choices)}"
    usage = body.get("usage")
    if usage is not None and not isinstance(usage, dict):
        return f"usage is {_shown(usage)}, not an object"
    for name, count in (usage or {}).items():
        if name.endswith("_tokens") and count is not None and not _is_token_count(count):
            return f"usage.{name} is {_shown(count)}, not a token count"
    return None


def _is_token_count(count: object) -> bool:
    return isinstance(count, int) and not isinstance(count, bool) and 0 <= count <= MAX_USAGE_TOKENS


def _shown(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _error_code(response: httpx2.Response) -> str | None:
    try:
        error = json.loads(response.content).get("error")
    except (ValueError, AttributeError):
        return None
    return error.get("code") if isinstance(error, dict) else None


async def without_echoed_secrets(response: httpx2.Response) -> httpx2.Response:
    """The response with the request's API key (and any other secret, on an error page) masked.

    Some servers echo the key back in a 401 or 500 page; masked here, as it arrives, it never reaches
    the SDK's error, a log line, a span, trace.jsonl or calls.jsonl. An answer (a 2xx) is changed
    only where it holds the key itself. Streams are left alone.
    """
    if "event-stream" in response.headers.get("content-type", ""):
        return response
    key = response.request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    keys = [key] if len(key) >= _SHORTEST_KEY else []  # not a placeholder such as "not-needed"
    await response.aread()
    content = response.content
    if response.status_code < 400:
        cleaned = content.replace(key.encode(), REDACTED.encode()) if keys else content
    else:
        text = content.decode("utf-8", errors="replace")
        masked = redact(text, keys)
        cleaned = masked.encode() if masked != text else content
    if cleaned == content:
        return response
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _BODY_HEADERS]
    redacted = httpx2.Response(response.status_code, headers=headers, content=cleaned, request=response.request)
    await response.aclose()
    return redacted


_BODY_HEADERS = frozenset({"content-length", "content-encoding", "transfer-encoding"})
_SHORTEST_KEY = 16  # real API keys are longer; synthgen's placeholders ("not-needed") are shorter


class CheckedTransport(httpx2.AsyncBaseTransport):
    """Turns transient responses into `RetryableResponse` for tenacity, and tells the limiter how attempts went."""

    def __init__(self, wrapped: httpx2.AsyncBaseTransport) -> None:
        self.wrapped = wrapped

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        slot = current_slot.get()
        if slot is not None:
            slot.attempt_started(first=request.extensions.get("synthgen_attempt") is None)
            request.extensions["synthgen_attempt"] = slot.attempts
        response = await self.wrapped.handle_async_request(request)
        response.request = request
        try:
            response = await without_echoed_secrets(response)
            kind, detail = await transient_problem(response)
        except BaseException:
            await response.aclose()
            raise
        if kind is None:
            if slot is not None and response.status_code < 400:
                slot.succeeded()
            return response
        if kind == "rate_limited" and slot is not None:
            slot.rate_limited()
        raise RetryableResponse(kind, response, detail)

    async def aclose(self) -> None:
        await self.wrapped.aclose()


def _fractional_retry_after(exc: BaseException | None) -> float | None:
    """Retry-After as decimal seconds ("0.25"): pydantic-ai's wait_retry_after reads whole seconds only."""
    if not isinstance(exc, httpx2.HTTPStatusError) or "retry-after-ms" in exc.response.headers:
        return None
    try:
        seconds = float(exc.response.headers.get("retry-after", ""))
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


class _Wait:
    """What the server asks for (plus up to 10% jitter, never less), else exponential backoff with jitter."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.backoff = wait_exponential_jitter(
            multiplier=policy.initial_delay or 1e-9, max=policy.max_delay, jitter=policy.initial_delay
        )
        # retry-after-ms, whole seconds or an HTTP date; -1 when the response names no wait
        self.server = wait_retry_after(lambda _: -1.0, max_wait=math.inf)

    def asked(self, state: RetryCallState) -> float | None:
        """Seconds the server asked this attempt to wait, if it did."""
        exc = state.outcome.exception() if state.outcome else None
        seconds = _fractional_retry_after(exc)
        if seconds is None:
            seconds = self.server(state)
        return None if seconds < 0 else seconds

    def __call__(self, state: RetryCallState) -> float:
        asked = self.asked(state)
        if asked is not None:
            return asked + random.uniform(0, min(1.0, asked * 0.1))
        return float(self.backoff(state))


class _WaitBudgetSpent(stop_base):
    """Stop when the next wait would take this request's waits past `max_wait` seconds in total."""

    def __init__(self, max_wait: float) -> None:
        self.max_wait = max_wait

    def __call__(self, state: RetryCallState) -> bool:
        return state.idle_for + state.upcoming_sleep > self.max_wait


@dataclass(frozen=True)
class _Announce:
    """Before each wait: one log line naming the item, the failure and the wait; the slot counts the wait."""

    max_attempts: int

    def __call__(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        slot = current_slot.get()
        if slot is not None:
            slot.waited += state.upcoming_sleep
        call = current_call.get()
        what = describe_error(exc)
        log.info(
            "%s: %s; retrying in %.2f s (attempt %d of %d)",
            f"{call.stage}: {call.item}" if call else "model call",
            what,
            state.upcoming_sleep,
            state.attempt_number + 1,
            self.max_attempts,
            extra={"event": "retry", "reason": what, "wait_s": round(state.upcoming_sleep, 3)},
        )


def _give_up(state: RetryCallState) -> httpx2.Response:
    """Out of attempts or wait: the SDK gets the last response (or error) and raises its usual exception."""
    exc = state.outcome.exception() if state.outcome else None
    log.debug("giving up after %d attempt(s): %s", state.attempt_number, describe_error(exc))
    if isinstance(exc, RetryableResponse) and exc.kind == "bad_response":
        raise BadModelResponse(_model_of(exc.request), f"the server answered 200 with {exc}") from None
    if isinstance(exc, RetryableResponse):
        return exc.response
    assert exc is not None
    raise exc


def _model_of(request: httpx2.Request) -> str:
    try:
        model = json.loads(request.content).get("model")
    except (ValueError, AttributeError):
        model = None
    return model if isinstance(model, str) else "unknown"


def describe_error(exc: BaseException | None) -> str:
    if isinstance(exc, RetryableResponse):
        return str(exc)
    if isinstance(exc, httpx2.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx2.RemoteProtocolError):
        return "connection dropped"
    if isinstance(exc, httpx2.NetworkError):
        return "connection failed"
    return type(exc).__name__ if exc is not None else "unknown error"


# The pool pydantic-ai's and the openai SDK's own clients have: 1000 connections, 100 kept alive.
HTTP_LIMITS = httpx2.Limits(max_connections=1000, max_keepalive_connections=100)


def retrying_transport(
    policy: RetryPolicy, wrapped: httpx2.AsyncBaseTransport | None = None
) -> httpx2.AsyncBaseTransport:
    return AsyncHTTPX2TenacityTransport(
        RetryConfig(
            retry=retry_if_exception_type(_RETRIED_ERRORS),
            wait=_Wait(policy),
            stop=stop_after_attempt(policy.max_attempts) | _WaitBudgetSpent(policy.max_wait),
            before_sleep=_Announce(policy.max_attempts),
            retry_error_callback=_give_up,
        ),
        wrapped=CheckedTransport(wrapped or httpx2.AsyncHTTPTransport(limits=HTTP_LIMITS)),
    )


def openai_provider(
    policy: RetryPolicy,
    base_url: str | None = None,
    api_key: str | None = None,
    *,
    provider_class: type[OpenAIProvider] = OpenAIProvider,
) -> OpenAIProvider:
    """An OpenAI provider whose requests retry under `policy`, with the SDK's own retries off.
    `provider_class` names another OpenAI-compatible provider, e.g. the embedded model's."""
    client = create_async_httpx2_client(
        timeout=httpx2.Timeout(policy.timeout, connect=min(5.0, policy.timeout)),
        transport=retrying_transport(policy),
    )
    provider = provider_class(base_url=base_url, api_key=api_key, http_client=client)
    provider.client.max_retries = 0  # the transport retries; SDK retries on top would multiply them
    provider.client.timeout = httpx2.Timeout(policy.timeout, connect=min(5.0, policy.timeout))
    return provider


# --- What a failure means for the run -----------------------------------------------------------


@dataclass(frozen=True)
class ItemFailure:
    reason_code: str
    message: str


def item_failure(err: BaseException, slot: Slot | None = None) -> ItemFailure | None:
    """A model-call error that is this item's bad luck (retries spent), or None when it stops the run.

    Errors no retry or other item can fix (authentication, quota, unknown model, a request the
    provider rejects) return None.
    """
    attempts = _attempts_note(slot)
    if isinstance(err, IndexError):
        return ItemFailure("model_empty_response", f"the model sent an empty response (no choices){attempts}")
    if not isinstance(err, ModelAPIError):
        return None
    if isinstance(err, ModelQuotaExceededError | ModelAuthenticationError | ModelNotFoundError):
        return None
    if isinstance(err, BadModelResponse):
        return ItemFailure("model_bad_response", f"{err.message}{attempts}")
    if isinstance(err, ModelContextWindowExceededError):
        return ItemFailure("model_context_window_exceeded", f"the prompt is too long for the model: {err}")
    if isinstance(err, ModelRateLimitError):
        return ItemFailure("model_rate_limited", f"still rate limited{attempts}")
    if isinstance(err, ModelTimeoutError | ModelRequestTimeout):
        return ItemFailure("model_timeout", f"timed out{attempts}")
    if isinstance(err, ModelConnectionError):
        return ItemFailure("model_connection_error", f"connection failed{attempts}")
    if isinstance(err, ModelServerError | ModelUnavailableError):
        return ItemFailure("model_server_error", f"server error{_status(err)}{attempts}")
    if isinstance(err, ModelHTTPError) and err.status_code == 400 and "context" in str(err.body).lower():
        # llama.cpp and other OpenAI-compatible servers say so in a plain 400: one item's history is too long.
        return ItemFailure("model_context_window_exceeded", f"the prompt is too long for the model: {err}")
    if isinstance(err, ModelRequestRejectedError):
        return None
    if isinstance(err, ModelHTTPError):  # uncategorised: go by the status
        if err.status_code == 429:
            return ItemFailure("model_rate_limited", f"still rate limited{attempts}")
        if err.status_code in RETRIED_STATUSES:
            return ItemFailure("model_server_error", f"HTTP {err.status_code}{attempts}")
        return None
    return ItemFailure("model_bad_response", f"unreadable response: {err}{attempts}")


def _status(err: ModelAPIError) -> str:
    return f" (HTTP {err.status_code})" if isinstance(err, ModelHTTPError) else ""


def _attempts_note(slot: Slot | None) -> str:
    if slot is None or not slot.attempts:
        return ""
    waited = f", {slot.waited:.1f} s of waits" if slot.waited else ""
    return f" after {slot.attempts} attempt(s){waited}"


def is_empty_choices_bug(err: IndexError) -> bool:
    """The bare IndexError pydantic-ai 2.62 raises for `choices: []` (pydantic/pydantic-ai#7909), not ours."""
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and "pydantic_ai/models/openai" in tb.tb_frame.f_code.co_filename.replace("\\", "/")
