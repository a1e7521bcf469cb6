"""One place where agents meet the model: concurrency limit, settings and token accounting."""

import time
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic_ai import Agent, ModelSettings
from pydantic_ai.exceptions import ModelAPIError, UnexpectedModelBehavior
from pydantic_ai.models import Model
from pydantic_ai.usage import RunUsage

from synthgen.errors import ModelCallError
from synthgen.orchestrator.llm.costs import CostLedger
from synthgen.orchestrator.llm.recording import calling
from synthgen.orchestrator.llm.retries import AdaptiveLimiter, Slot, is_empty_choices_bug, item_failure
from synthgen.orchestrator.observe.logs import Progress
from synthgen.orchestrator.observe.tracing import RunTrace, annotate_current
from synthgen.orchestrator.run.failures import FailureBudget
from synthgen.schemas.manifest import StageReport, TokenUsage

OutputT = TypeVar("OutputT")
DepsT = TypeVar("DepsT")


class ItemFailed(Exception):
    """The model could not produce a valid answer for one item within the agent's retries."""

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(message)
        self.reason_code = reason_code


def token_usage(usage: RunUsage) -> TokenUsage:
    return TokenUsage(requests=usage.requests, input_tokens=usage.input_tokens, output_tokens=usage.output_tokens)


@dataclass
class ModelRunner:
    """Runs agents against the run's model; every call shares one concurrency limit."""

    model: Model
    model_name: str
    settings: ModelSettings
    concurrency: int
    stages: dict[str, StageReport]
    usage_by_model: dict[str, TokenUsage] = field(default_factory=dict)
    ledger: CostLedger | None = None  # the priced calls; the manifest's usage and cost come from it
    trace: RunTrace = field(default_factory=RunTrace)  # synthgen's spans, for the stages' items
    progress: Progress = field(default_factory=Progress)
    failures: FailureBudget = field(default_factory=FailureBudget)  # --max-failure-rate per stage
    _limit: AdaptiveLimiter | None = None

    def _semaphore(self) -> AdaptiveLimiter:
        # Adapts to 429s between 1 and `concurrency` calls in flight (retries.py).
        if self._limit is None:
            self._limit = AdaptiveLimiter(self.concurrency)
        return self._limit

    async def run(
        self,
        agent: Agent[DepsT, OutputT],
        prompt: str,
        deps: DepsT,
        stage: str,
        item: str,
    ) -> OutputT:
        """The agent's validated output; ItemFailed when the model never produced one.

        Tokens count towards `stage`, and calls.jsonl records the calls under `stage` and `item`.
        """
        usage = RunUsage()
        report = self.stages[stage]
        self.failures.attempt(stage)
        slot: Slot | None = None
        try:
            waiting = time.monotonic()
            async with self._semaphore().slot() as slot:
                annotate_current(queued_ms=round((time.monotonic() - waiting) * 1000, 1))
                with calling(stage, item, agent.name or "agent"):
                    result = await agent.run(
                        prompt, deps=deps, model=self.model, model_settings=self.settings, usage=usage
                    )
            return result.output
        except UnexpectedModelBehavior as err:
            self.failures.fail(stage, f"{agent.name}_invalid_output")
            raise ItemFailed(f"{agent.name}_invalid_output", f"{item}: {err}") from err
        except (ModelAPIError, IndexError) as err:
            if isinstance(err, IndexError) and not is_empty_choices_bug(err):
                raise
            failure = item_failure(err, slot)
            if failure is None:  # no retry or other item can fix it: bad key, no quota, unknown model, ...
                raise ModelCallError(
                    f"model call for {item} failed: {err}; check the model and its server, then re-run"
                ) from err
            self.failures.fail(stage, failure.reason_code)
            raise ItemFailed(failure.reason_code, f"{item}: {failure.message}") from err
        finally:
            if self.ledger is None:  # with a ledger, usage and cost come from its priced calls
                spent = token_usage(usage)
                report.usage = report.usage + spent
                self.usage_by_model[self.model_name] = self.usage_by_model.get(self.model_name, TokenUsage()) + spent
