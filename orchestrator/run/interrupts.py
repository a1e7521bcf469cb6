"""Ctrl-C (SIGINT) and SIGTERM: stop a run within seconds, keep what was recorded, say how to resume.

`run_interruptible` runs the pipeline's coroutine like `asyncio.run`, but either signal cancels it:
model requests in flight are abandoned (their answers were never recorded, so a re-run asks again),
`finally` blocks close the run directory and the trace, and `Interrupted` is raised. No final output
file is half-written: they are written with temp file + rename, in one step with no await in between,
so a cancellation lands before all of them or after all of them.

A second signal, or a shutdown that takes longer than `grace` seconds, ends the process at once;
calls.jsonl is flushed record by record, so even then nothing recorded is lost.
"""

import asyncio
import os
import signal
import sys
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from synthgen.orchestrator.llm.calls_file import read_calls
from synthgen.schemas.layout import CALLS_FILE

T = TypeVar("T")
SIGNALS = (signal.SIGINT, signal.SIGTERM)
GRACE_SECONDS = 10.0


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal. A KeyboardInterrupt, so code that handles Ctrl-C handles this too."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # the shell's convention: 130 for SIGINT, 143 for SIGTERM


def resume_line(stop: Interrupted, run_dir: Path) -> str:
    """The one line printed when a run is interrupted."""
    answers = len(read_calls(run_dir / CALLS_FILE).records)
    if answers:
        kept = f"{answers} model answer(s) are kept in {run_dir / CALLS_FILE}"
        return f"synthgen: interrupted ({stop.signal_name}): {kept}; run the same command again to resume"
    return (
        f"synthgen: interrupted ({stop.signal_name}) before any model answer was recorded; run the same command again"
    )


def run_interruptible(main: Coroutine[Any, Any, T], *, grace: float = GRACE_SECONDS) -> T:
    """`asyncio.run(main)`, except that SIGINT or SIGTERM cancels `main` and raises `Interrupted`."""
    received: list[int] = []
    watchdog: threading.Timer | None = None

    def on_signal(signum: int) -> None:
        nonlocal watchdog
        if received:
            _stop_now(f"synthgen: {signal.Signals(signum).name} again: stopping now", 128 + received[0])
        received.append(signum)
        task.cancel()
        watchdog = threading.Timer(
            grace,
            _stop_now,
            args=(
                f"synthgen: still stopping {grace:g} s after {signal.Signals(signum).name}: stopped hard",
                128 + signum,
            ),
        )
        watchdog.daemon = True
        watchdog.start()

    try:
        with asyncio.Runner() as runner:
            loop = runner.get_loop()
            task = loop.create_task(main)
            installed = _install(loop, on_signal)
            try:
                return loop.run_until_complete(task)
            except BaseException as err:
                if received:
                    raise Interrupted(received[0]) from (None if isinstance(err, asyncio.CancelledError) else err)
                raise
            finally:
                _uninstall(loop, installed)
    finally:
        if watchdog is not None:
            watchdog.cancel()


def _install(loop: asyncio.AbstractEventLoop, handler: Any) -> list[tuple[int, Any]]:
    installed = []
    for signum in SIGNALS:
        previous = signal.getsignal(signum)
        try:
            loop.add_signal_handler(signum, handler, signum)
        except (ValueError, RuntimeError, NotImplementedError):  # not the main thread, or no signals here
            continue
        installed.append((signum, previous))
    return installed


def _uninstall(loop: asyncio.AbstractEventLoop, installed: list[tuple[int, Any]]) -> None:
    for signum, previous in installed:
        loop.remove_signal_handler(signum)
        signal.signal(signum, previous if previous is not None else signal.SIG_DFL)


def _stop_now(message: str, code: int) -> None:
    try:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
    finally:
        os._exit(code)
