"""Traces: Logfire (or any OTLP endpoint) when configured, and always trace.jsonl in the run directory.

`configure_logfire()` is called once by the CLI. It sends to Logfire only when a token is present
(LOGFIRE_TOKEN or `.logfire/` credentials), needs no network otherwise, and prints nothing.
Logfire itself also exports to any endpoint set with the standard OTEL_EXPORTER_OTLP_ENDPOINT /
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT variables (logfire >= 5 adds that exporter when either is set).

synthgen's own spans form the tree run -> document -> stage -> item; pydantic-ai's spans
(`invoke_agent`, `chat <model>`, `execute_tool`) hang below the item that made the call. Stages
run across all documents at once, so stage and item spans are given their document's span as
parent explicitly rather than through the current context.

`TraceFiles` is a span processor that appends every finished span of a run to that run's
trace.jsonl, one JSON object per line, with its parent's id. The file is volatile by nature
(timings, span ids) and is not one of the run's data files.
"""

import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import logfire
from logfire.exceptions import LogfireConfigError
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import Link, SpanContext, Status, StatusCode
from pydantic import ValidationError

from synthgen import __version__
from synthgen.errors import InputError
from synthgen.orchestrator.observe.redact import SECRET_PATTERNS, known_secrets, redact
from synthgen.orchestrator.rundir.directory import open_run_file
from synthgen.schemas.document import SourceDocument
from synthgen.schemas.items import ITEM_ID
from synthgen.schemas.layout import TRACE_FILE
from synthgen.schemas.manifest import TokenUsage
from synthgen.schemas.trace import SpanException, SpanLink, TraceSpan

SERVICE_NAME = "synthgen"
PREFIX = "synthgen."

# Attributes left out of trace.jsonl: message contents and schemas (large; every answer is in
# calls.jsonl, and Logfire gets them in full) and per-call random ids.
_DROPPED = frozenset(
    {
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.tool.definitions",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "pydantic_ai.all_messages",
        "model_request_parameters",
        "final_result",
        "tool_arguments",
        "tool_response",
        "logfire.json_schema",
        "logfire.metrics",
        "logfire.exception.fingerprint",
        "gen_ai.agent.call.id",
        "gen_ai.conversation.id",
    }
)
_MAX_TEXT = 1000  # characters kept of any other string attribute
_FOREIGN = (PREFIX, "logfire.", "gen_ai.", "exception.")  # attribute names used as given


def _tracer() -> trace.Tracer:
    # Looked up on each use: the global provider is logfire's once it is configured.
    return trace.get_tracer("synthgen", __version__)


# -- trace.jsonl ---------------------------------------------------------------------------------


def _hex(number: int, width: int) -> str:
    return f"{number:0{width}x}"


def _time(nanoseconds: int | None) -> datetime | None:
    if nanoseconds is None:
        return None
    return datetime.fromtimestamp(nanoseconds / 1e9, UTC)


def _plain(value: Any) -> Any:
    if isinstance(value, str):
        return value if len(value) <= _MAX_TEXT else value[: _MAX_TEXT - 1] + "…"
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _attributes(attributes: Any) -> dict[str, Any]:
    return {k: _plain(v) for k, v in (attributes or {}).items() if k not in _DROPPED}


def span_record(span: ReadableSpan) -> TraceSpan:
    """The line trace.jsonl stores for a finished span."""
    ctx = span.context
    return TraceSpan(
        trace_id=_hex(ctx.trace_id, 32),
        span_id=_hex(ctx.span_id, 16),
        parent_id=_hex(span.parent.span_id, 16) if span.parent else None,
        name=span.name,
        start=_time(span.start_time),
        duration_ms=round((span.end_time - span.start_time) / 1e6, 3) if span.end_time and span.start_time else None,
        status="error" if span.status.status_code is StatusCode.ERROR else "ok",
        attributes=_attributes(span.attributes),
        error=_plain(span.status.description) if span.status.description else None,
        exceptions=[
            SpanException(
                type=e.attributes.get("exception.type"), message=_plain(e.attributes.get("exception.message"))
            )
            for e in span.events
            if e.name == "exception" and e.attributes
        ],
        links=[
            SpanLink(span_id=_hex(link.context.span_id, 16), attributes=_attributes(link.attributes))
            for link in span.links
        ],
    )


def span_line(span: TraceSpan) -> bytes:
    """The bytes of one trace.jsonl line: fields at their default (no error, links...) are left out."""
    return span.model_dump_json(exclude_defaults=True).encode() + b"\n"


def read_spans(path: Path) -> list[TraceSpan]:
    """Every span of a trace.jsonl; a line cut short by a crash, or not a span, is skipped."""
    spans = []
    for line in path.read_bytes().splitlines():
        try:
            spans.append(TraceSpan.model_validate_json(line))
        except ValidationError:
            continue
    return spans


class _Sink:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = os.fdopen(open_run_file(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT), "ab")
        self._lock = threading.Lock()

    def write(self, span: TraceSpan) -> None:
        line = redact(span_line(span).decode()).encode()  # secrets echoed into attributes never reach the file
        with self._lock:
            if self._file is not None:
                self._file.write(line)
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


class TraceFiles(SpanProcessor):
    """Appends each finished span below a registered run span to that run's trace.jsonl."""

    def __init__(self) -> None:
        self._owner: dict[int, _Sink] = {}
        self._lock = threading.Lock()

    def attach(self, run_span: trace.Span, path: Path) -> _Sink | None:
        """Write the spans below `run_span` to `path`; None when this processor does not see spans."""
        if not run_span.is_recording() or not _installed():
            return None
        sink = _Sink(path)
        with self._lock:
            self._owner[run_span.get_span_context().span_id] = sink
        return sink

    def detach(self, sink: _Sink) -> None:
        """Stop writing to `sink`: spans of the run still open (a crash, Ctrl-C) are dropped, not leaked."""
        with self._lock:
            for span_id in [k for k, v in self._owner.items() if v is sink]:
                del self._owner[span_id]
        sink.close()

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        parent = span.parent
        if parent is None:
            return
        with self._lock:
            sink = self._owner.get(parent.span_id)
            if sink is not None:
                self._owner[span.context.span_id] = sink

    def on_end(self, span: ReadableSpan) -> None:
        with self._lock:
            sink = self._owner.pop(span.context.span_id, None)
        if sink is not None:
            sink.write(span_record(span))

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


TRACE_FILES = TraceFiles()


def _installed() -> bool:
    config = getattr(logfire.DEFAULT_LOGFIRE_INSTANCE, "config", None)
    return TRACE_FILES in (getattr(config, "additional_span_processors", None) or ())


def _keep_synthgen_attributes(match: "logfire.ScrubMatch") -> Any:
    """Logfire's scrubber redacts any value that merely mentions e.g. 'auth' or 'session'. synthgen's
    own attributes are IDs, paths, reason codes and counts that synthgen chose to record, so keep them,
    with any secret in them masked. A value that holds a secret is kept masked too, rather than dropped
    with a note that would quote the secret."""
    path, value = match.path, match.value
    masked = redact(value) if isinstance(value, str) else value
    if len(path) >= 2 and path[0] == "attributes" and str(path[1]).startswith(PREFIX):
        return masked
    return masked if masked != value else None


def configure_logfire() -> None:
    """Set up Logfire and pydantic-ai instrumentation, once per process; trace.jsonl files get every span.

    Sends to Logfire only when a token is configured (LOGFIRE_SEND_TO_LOGFIRE, when set, decides
    instead); exports to OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT when set; never prints to the console.
    """
    if _installed():
        return
    try:
        logfire.configure(
            send_to_logfire=None if os.environ.get("LOGFIRE_SEND_TO_LOGFIRE") else "if-token-present",
            console=False,
            service_name=os.environ.get("LOGFIRE_SERVICE_NAME") or os.environ.get("OTEL_SERVICE_NAME") or SERVICE_NAME,
            service_version=__version__,
            additional_span_processors=[TRACE_FILES],
            scrubbing=logfire.ScrubbingOptions(
                callback=_keep_synthgen_attributes,
                extra_patterns=[*SECRET_PATTERNS, *(re.escape(s) for s in known_secrets())],
            ),
        )
    except LogfireConfigError as err:
        raise InputError(f"cannot set up tracing: {err}; check the LOGFIRE_* and OTEL_* variables") from None
    logfire.instrument_pydantic_ai()


def flush_traces() -> None:
    """Hand finished spans to their exporters now (Logfire, OTLP); trace.jsonl is written as spans end."""
    try:
        logfire.force_flush(timeout_millis=5000)
    except Exception as err:  # noqa: BLE001 - telemetry must never fail a run
        logging.getLogger("synthgen").debug("flushing spans failed: %s", err)


# -- synthgen's spans ----------------------------------------------------------------------------


def _attrs(message: str | None, attributes: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if message is not None:
        out["logfire.msg"] = message
        out["logfire.span_type"] = "span"
    for key, value in attributes.items():
        if value is None:
            continue
        if isinstance(value, tuple | set | frozenset):
            value = sorted(value) if isinstance(value, set | frozenset) else list(value)
        if isinstance(value, list):
            value = [str(v) for v in value]
        out[key if key.startswith(_FOREIGN) else PREFIX + key] = value
    return out


def set_attributes(span: trace.Span, **attributes: Any) -> None:
    """Set synthgen attributes on a span: bare names get the `synthgen.` prefix, None is skipped."""
    if span.is_recording():
        span.set_attributes(_attrs(None, attributes))


def annotate_current(**attributes: Any) -> None:
    """Set synthgen attributes on the current span (e.g. the `chat` span around a model request)."""
    set_attributes(trace.get_current_span(), **attributes)


def _start(name: str, message: str, parent: trace.Span | None, attributes: dict[str, Any], links: Sequence[Link] = ()):
    ctx = trace.set_span_in_context(parent) if parent is not None else None
    return _tracer().start_span(name, context=ctx, attributes=_attrs(message, attributes), links=list(links))


def _end(span: trace.Span, error: BaseException | None = None) -> None:
    if error is not None and span.is_recording():
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
    span.end()


class RunTrace:
    """The spans of one run: run -> document -> stage (-> level, e.g. a supervisor attempt) -> item.

    Without a run span (a library caller that configured nothing) every method still works and
    items simply nest under whatever span is current.
    """

    def __init__(self, run_span: trace.Span | None = None, documents: dict[str, trace.Span] | None = None) -> None:
        self.run_span = run_span
        self.documents = documents or {}
        self._open: dict[tuple[str, str], list[trace.Span]] = {}

    def _parent(self, stage: str, document_id: str) -> trace.Span | None:
        stack = self._open.get((stage, document_id))
        if stack:
            return stack[-1]
        return self.documents.get(document_id, self.run_span)

    def _document_name(self, document_id: str) -> str:
        span = self.documents.get(document_id)
        path = getattr(span, "attributes", {}).get(PREFIX + "document.path") if span is not None else None
        return Path(str(path)).name if path else document_id

    @contextmanager
    def stage(self, stage: str, document_ids: Iterable[str], /, **attributes: Any) -> Iterator[None]:
        """A `stage` span under each document's span, open for the block."""
        with self.level(stage, document_ids, f"stage {stage}", None, stage=stage, **attributes):
            yield

    @contextmanager
    def level(
        self, stage: str, document_ids: Iterable[str], name: str, message: str | None, /, **attributes: Any
    ) -> Iterator[None]:
        """A span per document under the innermost open span of `stage` for that document."""
        spans: dict[str, trace.Span] = {}
        for doc in dict.fromkeys(document_ids):
            text = message or f"{stage} {self._document_name(doc)}"
            spans[doc] = _start(name, text, self._parent(stage, doc), attributes)
            self._open.setdefault((stage, doc), []).append(spans[doc])
        error: BaseException | None = None
        try:
            yield
        except BaseException as err:
            error = err
            raise
        finally:
            for doc, span in spans.items():
                self._open[(stage, doc)].remove(span)
                _end(span, error)

    def record_totals(self, examples: int, live: TokenUsage, replayed: TokenUsage) -> None:
        """The run's outcome on its root span: examples, tokens, list-price cost and money spent now."""
        if self.run_span is None:
            return
        total = live + replayed

        def usd(amount: Decimal | None) -> float | None:
            return float(amount) if amount is not None else None

        set_attributes(
            self.run_span,
            examples=examples,
            requests=total.requests,
            input_tokens=total.input_tokens,
            output_tokens=total.output_tokens,
            cost_usd=usd(total.cost_usd),
            spent_usd=usd(live.cost_usd),
            live_requests=live.requests,
            replayed_requests=replayed.requests,
        )

    def annotate(self, stage: str, document_id: str, /, **attributes: Any) -> None:
        """Attributes for the innermost open span of `stage` for the document."""
        span = self._parent(stage, document_id)
        if span is not None:
            set_attributes(span, **attributes)

    @contextmanager
    def item(
        self,
        stage: str,
        document_id: str,
        name: str,
        message: str,
        /,
        links: Sequence[tuple[SpanContext, dict[str, Any]]] = (),
        **attributes: Any,
    ) -> Iterator[trace.Span]:
        """The span of one item's work, current inside the block so agent spans nest below it."""
        span = _start(
            name,
            message,
            self._parent(stage, document_id),
            {"kind": "item", "stage": stage, **attributes},
            [Link(ctx, _attrs(None, attrs)) for ctx, attrs in links],
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        error: BaseException | None = None
        try:
            yield span
        except BaseException as err:
            error = err
            raise
        finally:
            otel_context.detach(token)
            _end(span, error)


@contextmanager
def run_trace(run_dir: Path, run_id: str, documents: Sequence[SourceDocument], **attributes: Any) -> Iterator[RunTrace]:
    """The run's root span and one span per document; spans below them go to run_dir/trace.jsonl."""
    run_span = _start(
        "synthgen run", f"synthgen run {run_id}", None, {"run_id": run_id, "documents": len(documents), **attributes}
    )
    try:
        sink = TRACE_FILES.attach(run_span, run_dir / TRACE_FILE)
    except BaseException as err:
        _end(run_span, err)
        raise
    baggage = logfire.set_baggage(**{PREFIX + "run_id": run_id})
    baggage.__enter__()
    docs = {
        doc.id: _start(
            "document",
            f"document {doc.path}",
            run_span,
            {"document.id": doc.id, "document.path": doc.path, "document.sha256": doc.sha256, "lines": doc.line_count},
        )
        for doc in documents
    }
    error: BaseException | None = None
    try:
        with trace.use_span(run_span, end_on_exit=False):
            yield RunTrace(run_span, docs)
    except BaseException as err:
        error = err
        raise
    finally:
        for span in docs.values():
            _end(span, error)
        baggage.__exit__(None, None, None)
        _end(run_span, error)
        if sink is not None:
            TRACE_FILES.detach(sink)


def item_ids(text: str) -> list[str]:
    """The uc_/pol_/tc_/ex_ IDs mentioned in a text."""
    return ITEM_ID.findall(text)
