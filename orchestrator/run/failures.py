"""Isolated item failures, and the share of them that stops a stage (--max-failure-rate).

An item is one unit of model work: an extraction window, a document's test design, an example, a
review batch or a revision. When the model still fails on one after every retry (the transport's
for transient errors, the agent's for invalid answers), the item is rejected with a reason code and
the stage goes on. If more than `max_rate` of a stage's items fail, the run stops with one line that
names the stage, the count and the commonest reason: as soon as that share is certain (the stage's
size is known) or at the stage's end. Every answer received so far stays in calls.jsonl, so the same
command resumes.
"""

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from synthgen.errors import SynthgenError

DEFAULT_MAX_FAILURE_RATE = 0.5


class StageFailed(SynthgenError):
    """Too many items of one stage failed after their retries."""


@dataclass
class FailureBudget:
    """The failed items of one stage, against the share of them the run tolerates."""

    stage: str
    max_rate: float = DEFAULT_MAX_FAILURE_RATE
    calls_path: Path | None = None  # where the answers so far are kept, for the message
    planned: int | None = None  # items the stage will run, when known up front
    attempted: int = 0
    failed: Counter[str] = field(default_factory=Counter)  # reason code -> count

    def __post_init__(self) -> None:
        if not 0 <= self.max_rate <= 1:
            raise ValueError(f"max_rate must be between 0 and 1, not {self.max_rate}")

    def attempt(self) -> None:
        self.attempted += 1

    def fail(self, reason_code: str) -> None:
        """Count one failed item; raise StageFailed if the stage can no longer stay under the rate."""
        self.failed[reason_code] += 1
        total = max(self.planned or 0, self.attempted)
        if self.planned and self._over(total):
            raise StageFailed(self.message(total))

    def check(self) -> None:
        """At the end of the stage: raise StageFailed if more than the allowed share of its items failed."""
        if self.attempted and self._over(self.attempted):
            raise StageFailed(self.message(self.attempted))

    def _over(self, total: int) -> bool:
        return self.failed.total() > self.max_rate * total

    def message(self, total: int) -> str:
        reasons = ", ".join(f"{code} ({n})" for code, n in self.failed.most_common(3))
        kept = f" are kept in {self.calls_path}" if self.calls_path else " are kept"
        return (
            f"{self.stage} stage: {self.failed.total()} of {total} items failed after their retries ({reasons}), "
            f"more than --max-failure-rate {self.max_rate:g} allows; the answers received so far{kept}: fix the "
            "cause (see the warnings above) and run the same command again to resume"
        )
