"""Record every model exchange in calls.jsonl and replay it: resume, --replay and eval cassettes.

The recorder wraps the model, not the HTTP client, so it works for every model pydantic-ai
supports. A request's key is a hash of what decides the answer: model name, messages (without
timestamps and generated IDs), tool and output schemas, and the settings.
"""

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter, ModelResponse
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings

from synthgen.errors import SynthgenError
from synthgen.orchestrator.llm.calls_file import RESPONSE, append_call, checksum, load_calls, read_new_calls
from synthgen.orchestrator.llm.costs import CostLedger, call_usage
from synthgen.orchestrator.observe.tracing import annotate_current
from synthgen.schemas.calls import CallRecord, CallRequest

log = logging.getLogger("synthgen")

RecordMode = Literal["record", "replay"]
# Fields that change on every run without changing what was asked.
_VOLATILE = frozenset(
    {
        "timestamp",
        "run_id",
        "conversation_id",
        "tool_call_id",
        "id",
        "provider_response_id",
        "usage",
        "history_digest",
        "provider_details",
        "failed_attempts",
    }
)


class ReplayMiss(SynthgenError):
    """--replay met a request that was never recorded."""


@dataclass(frozen=True)
class CallContext:
    stage: str
    item: str
    agent: str = "unknown"


_UNNAMED = CallContext("unknown", "unknown")
current_call: ContextVar[CallContext | None] = ContextVar("current_call", default=None)


@contextmanager
def calling(stage: str, item: str, agent: str = "unknown") -> Iterator[None]:
    """Name the stage, item and agent of the model calls made inside the block, for the record and errors."""
    token = current_call.set(CallContext(stage, item, agent))
    try:
        yield
    finally:
        current_call.reset(token)


def _strip_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_volatile(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_strip_volatile(v) for v in value]
    return value


def describe_request(
    model_name: str,
    messages: list[ModelMessage],
    settings: ModelSettings | None,
    parameters: ModelRequestParameters,
) -> tuple[str, CallRequest]:
    """The request's key (the hash of what decides the answer) and the request as calls.jsonl keeps it."""
    tools = sorted(
        (tool.name, orjson.dumps(tool.parameters_json_schema, option=orjson.OPT_SORT_KEYS).decode())
        for tool in [*parameters.function_tools, *parameters.output_tools]
    )
    payload = {
        "model": model_name,
        "messages": _strip_volatile(ModelMessagesTypeAdapter.dump_python(messages, mode="json")),
        "settings": {k: v for k, v in (settings or {}).items() if k not in ("timeout", "max_retries")},
        "tools": tools,
        "output_mode": parameters.output_mode,
        "allow_text_output": parameters.allow_text_output,
    }
    key = hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()
    request = CallRequest(
        messages=payload["messages"],
        output_schema=_output_schema(parameters),
        tools=[tool.name for tool in parameters.function_tools],
        settings=orjson.loads(orjson.dumps(payload["settings"], default=str)),
    )
    return key, request


def _output_schema(parameters: ModelRequestParameters) -> str | None:
    if parameters.output_object is not None:
        return parameters.output_object.name or parameters.output_object.json_schema.get("title")
    for tool in parameters.output_tools:
        return str(tool.parameters_json_schema.get("title") or tool.name)
    return None


class CallLog:
    """calls.jsonl: read at start, appended one durable line per answer, and read again for the answers
    other processes (the run's workers) recorded since, before a call is made: none is made twice."""

    def __init__(self, path: Path) -> None:
        self.path = path
        found, self._read_to = load_calls(path)  # a torn last record is cut off, a missing newline added
        self.records: dict[str, CallRecord] = {record.key: record for record in found.records}
        self.used: set[str] = set()
        self.problems: list[str] = found.problems
        for problem in self.problems:
            log.warning("%s; ignoring that record, its call will be made again", problem)

    def response(self, key: str) -> ModelResponse | None:
        record = self.records.get(key) or self._recorded_since(key)
        if record is None:
            return None
        self.used.add(key)
        return RESPONSE.validate_python(record.response)

    def _recorded_since(self, key: str) -> CallRecord | None:
        """`key`'s record if another process appended it after this one last read the file."""
        records, self._read_to = read_new_calls(self.path, self._read_to)
        for record in records:
            self.records.setdefault(record.key, record)
        return self.records.get(key)

    def append(
        self, key: str, request: CallRequest, model: str, context: CallContext, response: ModelResponse
    ) -> CallRecord:
        body = RESPONSE.dump_python(response, mode="json")
        record = CallRecord(
            key=key,
            model=model,
            stage=context.stage,
            item=context.item,
            request=request,
            response=body,
            usage=call_usage(response),
            checksum=checksum(key, body, request),
        )
        start, end = append_call(self.path, record)
        if start == self._read_to:  # nothing appended by others in between: no need to read our own line back
            self._read_to = end
        self.records[key] = record
        self.used.add(key)
        return record

    def unused_for(self, context: CallContext) -> list[CallRecord]:
        """Recorded calls of the same stage and item that this run has not asked for (yet)."""
        return [
            record
            for key, record in self.records.items()
            if key not in self.used and record.stage == context.stage and record.item == context.item
        ]

    @property
    def stale(self) -> list[CallRecord]:
        """Recorded calls this run never asked for: their prompts or inputs changed since."""
        return [record for key, record in self.records.items() if key not in self.used]


class RecordingModel(WrapperModel):
    """Answers from calls.jsonl when it can; otherwise asks the wrapped model and records the answer."""

    def __init__(self, wrapped: Any, calls: CallLog, mode: RecordMode, ledger: CostLedger) -> None:
        super().__init__(wrapped)
        self.calls = calls
        self.mode = mode
        self.ledger = ledger  # prices each call and holds live calls to --max-cost

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        key, request = describe_request(self.wrapped.model_name, messages, model_settings, model_request_parameters)
        recorded = self.calls.response(key)
        context = current_call.get() or _UNNAMED
        if recorded is not None:
            self._account(key, context, recorded, replayed=True)
            return recorded
        if self.mode == "replay":
            stale = self.calls.unused_for(context)
            why = (
                f"{len(stale)} recorded call(s) for it no longer match: its prompt or inputs changed"
                if stale
                else f"{len(self.calls.records)} calls recorded in {self.calls.path}"
            )
            raise ReplayMiss(
                f"--replay: no recorded answer for {context.stage} stage, {context.item} ({why}); "
                "run without --replay to call the model"
            )
        await self.ledger.admit_live_call()  # BudgetExceeded once --max-cost is spent
        try:
            response = await self.wrapped.request(messages, model_settings, model_request_parameters)
        except BaseException:
            self.ledger.live_call_failed()
            raise
        self.calls.append(key, request, self.wrapped.model_name, context, response)
        self._account(key, context, response, replayed=False)
        return response

    def _account(self, key: str, context: CallContext, response: ModelResponse, replayed: bool) -> None:
        """Price the call and tag the `chat` span pydantic-ai opened around this request."""
        cost = self.ledger.record(key, context.stage, context.item, context.agent, response, replayed).usage.cost_usd
        annotate_current(
            **{"call.replayed": replayed, "call.key": key, "call.priced": cost is not None},
            **({"call.cost_usd": float(cost)} if cost is not None else {}),
        )
