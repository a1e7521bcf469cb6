"""Logs and progress on stderr; stdout is kept for the final summary.

- `--log-format text` (default): `synthgen: <message>` lines. `--log-format json`: one JSON object
  per line with `time`, `level`, `logger`, `message` and the record's structured fields
  (`event`, `stage`, `done`, `total`, `tokens`, `cost_usd`, ...).
- `-q` keeps warnings and errors only; `-v` adds synthgen's debug lines; `-vv` adds the libraries'.
- Progress per stage (items done / total, tokens, money spent so far): a live display when stderr
  is a terminal and the format is text; otherwise plain log lines, at most one per stage every
  few seconds plus one when the stage ends, so CI logs and pipes stay readable.
"""

import logging
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TextIO

import orjson

from synthgen.orchestrator.defaults import LogFormat
from synthgen.orchestrator.llm.costs import usd
from synthgen.orchestrator.observe.redact import redact
from synthgen.schemas.calls import CallEntry

LOGGER = "synthgen"
log = logging.getLogger(LOGGER)

# Attributes every LogRecord has; anything else on a record came from `extra=` and is structured data.
_RECORD_FIELDS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time: a test runner's capture, or rich's live-display proxy."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        source = "synthgen" if record.name.split(".")[0] == LOGGER else record.name  # -vv: the libraries' too
        text = f"{source}: {record.getMessage()}"
        if record.exc_info and record.levelno >= logging.ERROR:
            text += "\n" + self.formatException(record.exc_info)
        return redact(text)


def structured_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _RECORD_FIELDS and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **structured_fields(record),
        }
        if record.exc_info and record.exc_info[1] is not None:
            data["error"] = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        return redact(orjson.dumps(data, default=str).decode())


def configure_logging(verbose: int = 0, quiet: bool = False, log_format: LogFormat = "text") -> None:
    """synthgen's logger to stderr; with -vv the libraries' debug logs too, in the same format."""
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    handler = _Stderr()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    logger = logging.getLogger(LOGGER)
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Stderr)]:
        root.removeHandler(old)
    if verbose >= 2:
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)


# -- progress ------------------------------------------------------------------------------------

UNITS = {"extract": "batches", "design": "documents", "write": "examples", "supervise": "examples"}


@dataclass
class StageCounts:
    done: int = 0
    total: int = 0
    calls: int = 0
    replayed: int = 0
    tokens: int = 0
    spent: Decimal = Decimal(0)
    unpriced: int = 0

    @property
    def priced_live(self) -> int:
        return self.calls - self.replayed - self.unpriced

    def money(self) -> str:
        """Spent on live calls; unpriced calls are counted, never shown as $0."""
        if self.unpriced and not self.priced_live:
            return "cost unpriced"
        return f"{usd(self.spent)} spent" + (f" + {self.unpriced} unpriced call(s)" if self.unpriced else "")

    def describe(self, stage: str) -> str:
        calls = f"{self.calls} call(s)" + (f", {self.replayed} replayed" if self.replayed else "")
        return (
            f"{self.done}/{self.total} {UNITS.get(stage, 'items')} · {calls} · {self.tokens:,} tokens · {self.money()}"
        )

    def fields(self, stage: str) -> dict[str, Any]:
        return {
            "event": "progress",
            "stage": stage,
            "done": self.done,
            "total": self.total,
            "calls": self.calls,
            "replayed": self.replayed,
            "tokens": self.tokens,
            "cost_usd": None if self.unpriced and not self.priced_live else float(self.spent),
            "unpriced_calls": self.unpriced,
        }


class Progress:
    """Progress of a run's stages. This base class only counts; subclasses show it."""

    def __init__(self) -> None:
        self.stages: dict[str, StageCounts] = {}

    def counts(self, stage: str) -> StageCounts:
        return self.stages.setdefault(stage, StageCounts())

    def expect(self, stage: str, count: int) -> None:
        """`count` more items will go through `stage`."""
        self.counts(stage).total += count
        self._changed(stage)

    def advance(self, stage: str, count: int = 1) -> None:
        """`count` items of `stage` are finished (accepted or rejected)."""
        if count:
            self.counts(stage).done += count
            self._changed(stage)

    def on_call(self, entry: CallEntry) -> None:
        """A model call finished (from the cost ledger)."""
        counts = self.counts(entry.stage)
        counts.calls += 1
        counts.tokens += entry.usage.input_tokens + entry.usage.output_tokens
        if entry.replayed:
            counts.replayed += 1
        elif entry.usage.cost_usd is None:
            counts.unpriced += 1
        else:
            counts.spent += entry.usage.cost_usd
        self._changed(entry.stage)

    def finish(self, stage: str) -> None:
        """The stage is over."""

    def close(self) -> None:
        """The run is over (or failed): take the display down."""

    def _changed(self, stage: str) -> None:
        pass


class LineProgress(Progress):
    """Plain log lines: one per stage at most every `interval` seconds, and one when it ends."""

    def __init__(self, interval: float = 10.0) -> None:
        super().__init__()
        self.interval = interval
        self._last: dict[str, float] = {}

    def _changed(self, stage: str) -> None:
        now = time.monotonic()
        last = self._last.setdefault(stage, now)
        counts = self.counts(stage)
        if now - last >= self.interval and counts.done < counts.total:
            self._last[stage] = now
            log.info("%s: %s", stage, counts.describe(stage), extra=counts.fields(stage))

    def finish(self, stage: str) -> None:
        counts = self.counts(stage)
        log.info("%s: done, %s", stage, counts.describe(stage), extra={**counts.fields(stage), "event": "stage_done"})


class LiveProgress(Progress):
    """A rich live display on stderr: one bar per stage with tokens and money spent."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        self.console = Console(file=stream or sys.stderr)
        self._display = RichProgress(
            TextColumn("{task.description:<10}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]:<9}"),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=self.console,
            redirect_stderr=True,
            redirect_stdout=False,
        )
        self._tasks: dict[str, Any] = {}
        self._display.start()

    def _changed(self, stage: str) -> None:
        counts = self.counts(stage)
        detail = f"{counts.tokens:>9,} tok  {counts.money()}" + (
            f"  ({counts.replayed} replayed)" if counts.replayed else ""
        )
        if stage not in self._tasks:
            self._tasks[stage] = self._display.add_task(stage, total=None, unit=UNITS.get(stage, "items"), detail="")
        self._display.update(self._tasks[stage], completed=counts.done, total=counts.total or None, detail=detail)

    def finish(self, stage: str) -> None:
        if stage in self._tasks:
            counts = self.counts(stage)
            self._display.update(self._tasks[stage], total=counts.total or counts.done, completed=counts.done)

    def close(self) -> None:
        self._display.stop()


def make_progress(quiet: bool = False, log_format: LogFormat = "text", stream: TextIO | None = None) -> Progress:
    """A live display on a terminal, log lines otherwise; nothing shown with -q."""
    stream = stream or sys.stderr
    if quiet:
        return Progress()
    if log_format == "text" and stream.isatty():
        return LiveProgress(stream if stream is not sys.stderr else None)
    return LineProgress()
