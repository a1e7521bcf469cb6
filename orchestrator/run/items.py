"""One item of a stage, run the same way in every stage.

Each item (an extraction window, a document's test design, an example, a review batch, a
revision) runs in its own span, counts towards the stage's progress and --max-failure-rate, and
when the model fails on it after every retry it is rejected: one warning line with its reason
code, the reason on its span, and a `Rejected` value instead of a result. Nothing is counted
behind the caller's back: the stage builds its report from the values its items return.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from opentelemetry.trace import SpanContext

from synthgen.orchestrator.observe.logs import Progress
from synthgen.orchestrator.observe.tracing import RunTrace, set_attributes
from synthgen.orchestrator.run.failures import DEFAULT_MAX_FAILURE_RATE, FailureBudget
from synthgen.orchestrator.run.runner import ItemFailed, ModelRunner

T = TypeVar("T")
log = logging.getLogger("synthgen")


@dataclass(frozen=True)
class Rejected:
    """An item the model failed on after every retry."""

    item: str  # as calls.jsonl names it, e.g. "example for test case tc_..."
    reason_code: str
    message: str
    span: SpanContext  # the item's span, for links to it


@dataclass(frozen=True)
class Item:
    """What the span, the log line and calls.jsonl call one item."""

    document_id: str
    span: str  # the span's name, e.g. "write example"
    message: str  # the span's message
    name: str  # the item as calls.jsonl records it and the warning names it
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StageContext:
    """What every stage's items share: the model, the trace, the progress display, the failure rate."""

    runner: ModelRunner
    trace: RunTrace = field(default_factory=RunTrace)
    progress: Progress = field(default_factory=Progress)
    max_failure_rate: float = DEFAULT_MAX_FAILURE_RATE
    calls_path: Path | None = None  # named when a stage fails, as where the answers so far are kept

    @contextmanager
    def stage(self, name: str, items: int, planned: bool = True) -> Iterator["Stage"]:
        """The stage's items for the block; at its end, too many failed items stop the run.

        `items` is what the progress display counts; when `planned`, it is also the number of
        model items, so failures stop the stage as soon as their share is certain.
        """
        self.progress.expect(name, items)
        stage = Stage(
            name, self, FailureBudget(name, self.max_failure_rate, self.calls_path, items if planned else None)
        )
        yield stage
        stage.budget.check()
        self.progress.finish(name)


@dataclass
class Stage:
    """One stage while it runs: its items share the model, the trace and one failure budget."""

    name: str
    context: StageContext
    budget: FailureBudget

    @property
    def runner(self) -> ModelRunner:
        return self.context.runner

    @property
    def trace(self) -> RunTrace:
        return self.context.trace

    async def run(
        self, item: Item, work: Callable[[], Awaitable[T]], advice: str, advance: bool = True
    ) -> T | Rejected:
        """`work` in the item's span; a Rejected (logged, on the span, counted) if the model fails on it.

        `advice` ends the warning line: what the user can do about such a failure.
        `advance` is False where the stage counts progress itself (the supervisor's rounds).
        """
        self.budget.attempt()
        try:
            with self.trace.item(self.name, item.document_id, item.span, item.message, **item.attributes) as span:
                try:
                    return await work()
                except ItemFailed as err:
                    if not err.judged:
                        self.budget.fail(err.reason_code)  # StageFailed once too many items failed
                    log.warning(
                        "rejected %s; %s",
                        err,  # "<item>: <what went wrong>"
                        advice,
                        extra={"event": "rejected", "item": item.name, "reason_code": err.reason_code},
                    )
                    set_attributes(span, outcome="rejected", reason_code=err.reason_code)
                    return Rejected(item.name, err.reason_code, str(err), span.get_span_context())
        finally:
            if advance:
                self.context.progress.advance(self.name)


async def gather_all(work: Iterable[Awaitable[T]]) -> list[T]:
    """Like `asyncio.gather`, but when one fails or the run is cancelled, the others are cancelled and
    awaited before the error goes on: no call stays queued behind the concurrency limit, or running,
    after the run has stopped (and nothing is left for Python to report as never awaited)."""
    tasks = [asyncio.ensure_future(each) for each in work]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


@dataclass
class Stopwatch:
    """Seconds each stage took, for the manifest's volatile part."""

    seconds: dict[str, float] = field(default_factory=dict)

    async def time(self, stage: str, work: Awaitable[T]) -> T:
        started = time.monotonic()
        try:
            return await work
        finally:
            self.seconds[stage] = round(time.monotonic() - started, 3)
