"""One place where agents meet the model: the run's model, its settings and one concurrency limit."""

import time
from dataclasses import dataclass
from typing import TypeVar

from pydantic_ai import Agent, ModelSettings
from pydantic_ai.exceptions import ModelAPIError, UnexpectedModelBehavior
from pydantic_ai.models import Model

from synthgen.errors import AnswerRejected, ModelCallError
from synthgen.orchestrator.llm.recording import calling
from synthgen.orchestrator.llm.retries import AdaptiveLimiter, Slot, is_empty_choices_bug, item_failure
from synthgen.orchestrator.observe.tracing import annotate_current

OutputT = TypeVar("OutputT")
DepsT = TypeVar("DepsT")


class ItemFailed(Exception):
    """The model could not produce a valid answer for one item within the agent's retries.

    `judged`: the model did answer, and a substance gate judged the answer wrong (AnswerRejected).
    That is a rejection of the item, like the supervisor's, not a failure of the model or its
    server: it does not count against the stage's --max-failure-rate.
    """

    def __init__(self, reason_code: str, message: str, *, judged: bool = False) -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.judged = judged


@dataclass(frozen=True)
class ModelRunner:
    """Runs agents against the run's model; every call shares one limit that adapts to 429s (retries.py)."""

    model: Model
    settings: ModelSettings
    limiter: AdaptiveLimiter

    async def run(self, agent: Agent[DepsT, OutputT], prompt: str, deps: DepsT, stage: str, item: str) -> OutputT:
        """The agent's validated output; ItemFailed when the model never produced one.

        calls.jsonl and the cost ledger file the calls under `stage` and `item`. An error no retry
        or other item can fix (bad key, no quota, unknown model) raises ModelCallError: it stops the run.
        """
        slot: Slot | None = None
        try:
            waiting = time.monotonic()
            async with self.limiter.slot() as slot:
                annotate_current(queued_ms=round((time.monotonic() - waiting) * 1000, 1))
                with calling(stage, item, agent.name or "agent"):
                    result = await agent.run(prompt, deps=deps, model=self.model, model_settings=self.settings)
            return result.output
        except UnexpectedModelBehavior as err:
            raise ItemFailed(f"{agent.name}_invalid_output", f"{item}: {err}") from err
        except AnswerRejected as err:
            raise ItemFailed(err.reason_code, f"{item}: {err}", judged=True) from err
        except (ModelAPIError, IndexError) as err:
            if isinstance(err, IndexError) and not is_empty_choices_bug(err):
                raise
            failure = item_failure(err, slot)
            if failure is None:
                raise ModelCallError(
                    f"model call for {item} failed: {err}; check the model and its server, then re-run"
                ) from err
            raise ItemFailed(failure.reason_code, f"{item}: {failure.message}") from err
