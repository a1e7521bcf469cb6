"""The xllamacpp server that runs one GGUF file: 127.0.0.1 only, one slot, started on first use, stopped on close."""

import asyncio
import os
from pathlib import Path
from typing import Protocol

import xllamacpp

from synthgen.orchestrator.llm.local.catalog import LocalModelError, LocalModelSpec

DEFAULT_CONTEXT_TOKENS = 16384  # a 3,000-token window plus three attempts and their feedback
_ERRORS_ONLY = 1  # llama.cpp log verbosity: it logs every request at its default, on our stderr


def _usable_cores() -> int:
    # The cores this process may run on (a container can get fewer than the machine has);
    # macOS has no sched_getaffinity.
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class _Server(Protocol):
    """The part of `xllamacpp.Server` used here."""

    @property
    def listening_address(self) -> str: ...


class LocalServer(Protocol):
    """What the model adapter needs from a runtime. Callers serialize calls to it."""

    async def base_url(self) -> str:
        """The OpenAI-compatible base URL (ending in /v1), starting the server first if it is not running."""
        ...

    def close(self) -> None:
        """Stop the server if it runs; the next `base_url` starts it again."""
        ...


class XllamacppServer:
    """llama.cpp's HTTP server, in this process, on a free loopback port."""

    def __init__(self, spec: LocalModelSpec, weights: Path, *, context_tokens: int = DEFAULT_CONTEXT_TOKENS) -> None:
        self.spec = spec
        self.weights = weights
        self.context_tokens = context_tokens
        self._server: _Server | None = None

    async def base_url(self) -> str:
        server = self._server
        if server is None:
            # Loading takes a second or more: keep the event loop free meanwhile.
            server = self._server = await asyncio.to_thread(self._start)
        return f"{server.listening_address}/v1"

    def _start(self) -> _Server:
        threads = _usable_cores()
        # xllamacpp has no type stubs and star-imports its compiled module, which checkers cannot see into.
        params = xllamacpp.CommonParams()  # pyright: ignore[reportAttributeAccessIssue]
        params.model.path = str(self.weights)
        # Responses name the model by this alias instead of the file's path, which differs per machine
        # and would leak into recorded calls.
        params.model_alias = {self.spec.model_name}
        params.n_ctx = self.context_tokens
        # One slot: extra slots do not speed up 2 cores, and with one slot (plus cache_prompt off in
        # each request) repeated runs at temperature 0 give identical outputs.
        params.n_parallel = 1
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.hostnames = ["127.0.0.1"]
        params.port = 0  # the OS picks a free port; listening_address reports it
        params.ui = False
        params.verbosity = _ERRORS_ONLY
        try:
            return xllamacpp.Server(params)  # pyright: ignore[reportAttributeAccessIssue]
        except RuntimeError as error:
            raise LocalModelError(
                f"could not start local model {self.spec.name} from {self.weights} ({error}): "
                f"run `synthgen models pull {self.spec.name}` to fetch it again"
            ) from error

    def close(self) -> None:
        # xllamacpp has no stop call: dropping the last reference runs ~Server, which ends its loop
        # and closes the port.
        self._server = None
