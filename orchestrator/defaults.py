"""The defaults `synthgen --help` shows, each defined once here, in a module that imports nothing heavy.

The CLI builds its options from these before any command runs, so `synthgen --help` and
`synthgen --version` never import pydantic, pydantic-ai, logfire or openai (seconds on a small
machine). The modules that apply a default import it from here.
"""

from dataclasses import dataclass
from typing import Literal

DEFAULT_MODEL = "openai-chat:gpt-4o-2024-08-06"  # with OPENAI_API_KEY set and no --model
DEFAULT_MAX_BYTES = 2_000_000  # largest document accepted
LogFormat = Literal["text", "json"]
DATABASE_URL_ENV = "SYNTHGEN_DATABASE_URL"  # the DBOS system database, as --database-url


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one model request tries. The CLI flags --max-attempts, --max-wait and --timeout set it."""

    max_attempts: int = 5  # HTTP attempts per model request, the first one included
    max_wait: float = 120.0  # seconds one request may spend waiting between its attempts, in total
    timeout: float = 300.0  # seconds one attempt may take: long enough for a slow local server's long answer
    initial_delay: float = 0.5  # first backoff when the server names no wait; doubles with each retry
    max_delay: float = 30.0  # the longest single backoff (a server's Retry-After is honoured whole)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.max_wait < 0 or self.timeout <= 0 or self.initial_delay < 0 or self.max_delay < 0:
            raise ValueError("waits and timeouts cannot be negative, and the timeout must be positive")
