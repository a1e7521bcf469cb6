"""Tokens and money: the price of each model call, the run's ledger, the --max-cost gate and estimate.

Prices come from genai-prices, the table pydantic-ai itself uses, bundled with the package: nothing
is fetched. A call whose model is not in the table is *unpriced*: it is counted apart and never
shown as $0.

Two totals are kept apart on purpose:

- the **list-price cost of the dataset**: every call the run used, replayed or live. It derives
  from the recorded answers only, so a replay reports exactly what the original run reported;
- the **money spent by this invocation**: live calls only (a replayed call costs nothing). It is
  what `--max-cost` limits, and it lives in the manifest's volatile part.
"""

import asyncio
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from decimal import Decimal
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from genai_prices import Usage, calc_price
from pydantic_ai.messages import ModelResponse
from pydantic_ai.models import Model
from pydantic_ai.models.wrapper import WrapperModel

from synthgen.agents.prompts import all_prompts
from synthgen.agents.supervisor import REVIEW_BATCH_SIZE
from synthgen.errors import SynthgenError
from synthgen.orchestrator.llm.calls_file import RESPONSE, read_calls
from synthgen.schemas.calls import CallEntry
from synthgen.schemas.document import SourceDocument
from synthgen.schemas.manifest import STAGES, CallCost, PricingInfo, TokenUsage
from synthgen.tools.batches import (
    ANSWER_TOKENS_PER_CANDIDATE,
    CHARS_PER_TOKEN,
    candidate_batches,
    candidate_tokens,
)
from synthgen.tools.segment import segment

log = logging.getLogger("synthgen")

try:
    PRICES_VERSION = version("genai-prices")
except PackageNotFoundError:  # pragma: no cover - it is a dependency of pydantic-ai-slim
    PRICES_VERSION = "unknown"
PRICING = PricingInfo(source="genai-prices", version=PRICES_VERSION)


class BudgetExceeded(SynthgenError):
    """--max-cost was reached, or cannot be enforced."""


def price(response: ModelResponse) -> Decimal | None:
    """List price in USD of one answered request, or None when its model has no known price."""
    if not response.model_name:
        return None
    try:
        return response.cost().total_price
    except (LookupError, ValueError, AssertionError):
        return None


def call_usage(response: ModelResponse) -> TokenUsage:
    """The tokens and price of one answered request."""
    cost = price(response)
    return TokenUsage(
        requests=1,
        input_tokens=response.usage.input_tokens,
        output_tokens=response.usage.output_tokens,
        cost_usd=cost,
        unpriced_requests=0 if cost is not None else 1,
    )


def model_identity(model: Model) -> tuple[str, str | None, str | None]:
    """(model name, provider id, base URL) of the model behind any wrappers."""
    while isinstance(model, WrapperModel):
        model = model.wrapped
    return model.model_name, model.system, getattr(model, "base_url", None)


@dataclass(frozen=True)
class ModelPrice:
    """USD per million input and output tokens."""

    input_mtok: Decimal
    output_mtok: Decimal


def model_price(model: Model) -> ModelPrice | None:
    """The model's list price, or None when genai-prices does not know it."""
    name, provider, base_url = model_identity(model)
    million = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    attempts = []
    if base_url:
        attempts.append({"provider_api_url": base_url})
    attempts.append({"provider_id": provider})
    for where in attempts:
        try:
            calculated = calc_price(million, name, **where)
        except LookupError:
            continue
        return ModelPrice(calculated.input_price, calculated.output_price)
    return None


def usd(amount: Decimal | None) -> str:
    """$0.0123 with enough digits to see small amounts; 'unpriced' for None."""
    if amount is None:
        return "unpriced"
    if amount == 0:
        return "$0.00"
    if amount >= 1:
        return f"${amount:,.2f}"
    if amount >= Decimal("0.01"):
        return f"${amount:.4f}"
    return f"${amount:.6f}"


def usage_cost(usage: TokenUsage) -> str:
    """The cost of a total, saying when some or all of its requests are unpriced."""
    if usage.requests == 0:
        return "$0.00"
    if usage.cost_usd is None:
        return "unpriced"
    text = usd(usage.cost_usd)
    if usage.unpriced_requests:
        text += f" + {usage.unpriced_requests} unpriced"
    return text


def _model_key(response: ModelResponse, fallback: str) -> str:
    name = response.model_name or fallback
    return f"{response.provider_name}:{name}" if response.provider_name else name


def _total(usages: Iterable[TokenUsage]) -> TokenUsage:
    return sum(usages, TokenUsage())


_collected: ContextVar[list[CallEntry] | None] = ContextVar("synthgen_collected_calls", default=None)


@contextmanager
def collecting_calls() -> Iterator[list[CallEntry]]:
    """The calls recorded inside the block, tasks it starts included: a durable step returns them with
    its result, so the process that writes the manifest counts calls made in other processes."""
    collected: list[CallEntry] = []
    token = _collected.set(collected)
    try:
        yield collected
    finally:
        _collected.reset(token)


class CostLedger:
    """Every model call of the run, priced; enforces --max-cost on live calls.

    RecordingModel reports each answered request here, replayed or live. Totals are exact Decimal
    sums, so they do not depend on the order concurrent calls finish in.
    """

    def __init__(self, max_cost: Decimal | None = None, model_name: str = "") -> None:
        self.max_cost = max_cost
        self.model_name = model_name  # used when a response does not name its model
        self.entries: list[CallEntry] = []
        self.live = TokenUsage()
        self.replayed = TokenUsage()
        self.calls_path: str | None = None  # for the budget message
        self._in_flight = 0
        self._idle: asyncio.Event | None = None
        self._unenforceable: str | None = None
        self.listeners: list[Callable[[CallEntry], None]] = []  # told of each call, e.g. the progress display

    # -- budget -------------------------------------------------------------------------------
    @property
    def spent(self) -> Decimal:
        return self.live.cost_usd or Decimal(0)

    def _stop_message(self) -> str:
        where = f" in {self.calls_path}" if self.calls_path else ""
        return (
            f"--max-cost reached: this run spent {usd(self.spent)} of {usd(self.max_cost)} on "
            f"{self.live.requests} live model call(s); every answer is kept{where}. "
            "Re-run the same command with a higher --max-cost (or without it) to resume: "
            "recorded calls are replayed at no cost"
        )

    async def admit_live_call(self) -> None:
        """Wait here before a live call; BudgetExceeded once the spend has reached --max-cost.

        The error is raised only when no live call is in flight any more, so every answer already
        paid for is recorded before the run stops.
        """
        if self._unenforceable or (self.max_cost is not None and self.spent >= self.max_cost):
            while self._in_flight:
                if self._idle is None:
                    self._idle = asyncio.Event()
                await self._idle.wait()
            raise BudgetExceeded(self._unenforceable or self._stop_message())  # with what was spent in the end
        self._in_flight += 1

    def live_call_failed(self) -> None:
        self._settle()

    def _settle(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0 and self._idle is not None:
            self._idle.set()
            self._idle = None

    # -- recording ------------------------------------------------------------------------------
    def record(self, key: str, stage: str, item: str, agent: str, response: ModelResponse, replayed: bool) -> CallEntry:
        usage = call_usage(response)
        entry = CallEntry(key, stage, item, agent, _model_key(response, self.model_name), usage, replayed)
        self.entries.append(entry)
        if replayed:
            self.replayed = self.replayed + usage
        else:
            self.live = self.live + usage
            self._settle()
            if self.max_cost is not None and usage.cost_usd is None:
                # The next live call stops the run; this answer is already recorded.
                self._unenforceable = (
                    f"--max-cost cannot be enforced: {entry.model} answered, and it has no known price "
                    f"(genai-prices {PRICES_VERSION}); every answer is kept. Re-run without --max-cost to continue"
                )
        log.debug(
            "%s call for %s: %s, %d in / %d out tokens, %s",
            "replayed" if replayed else "live",
            item,
            entry.model,
            usage.input_tokens,
            usage.output_tokens,
            usd(usage.cost_usd),
            extra={
                "event": "model_call", "stage": stage, "item": item, "agent": agent, "model": entry.model,
                "replayed": replayed, "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
                "cost_usd": float(usage.cost_usd) if usage.cost_usd is not None else None, "key": key,
            },
        )  # fmt: skip
        for listener in self.listeners:
            listener(entry)
        if (collected := _collected.get()) is not None:
            collected.append(entry)
        return entry

    def adopt(self, entry: CallEntry, replayed: bool) -> None:
        """A call answered in a step this process did not run (a worker's, or one finished before a
        crash, whose result the workflow database kept): counted like a call made here."""
        entry = replace(entry, replayed=replayed)
        self.entries.append(entry)
        if replayed:
            self.replayed = self.replayed + entry.usage
        else:
            self.live = self.live + entry.usage
        for listener in self.listeners:
            listener(entry)

    # -- totals for the manifest --------------------------------------------------------------
    @property
    def total(self) -> TokenUsage:
        return self.live + self.replayed

    def by(self, attribute: str) -> dict[str, TokenUsage]:
        groups: dict[str, list[TokenUsage]] = {}
        for entry in self.entries:
            groups.setdefault(getattr(entry, attribute), []).append(entry.usage)
        return {name: _total(usages) for name, usages in sorted(groups.items())}

    def by_stage(self) -> dict[str, TokenUsage]:
        return self.by("stage")

    def by_agent(self) -> dict[str, TokenUsage]:
        return self.by("agent")

    def by_model(self) -> dict[str, TokenUsage]:
        return self.by("model")

    def calls(self) -> list[CallCost]:
        """One line per call, in an order that does not depend on timing."""
        order = {name: index for index, name in enumerate(STAGES)}
        entries = sorted(self.entries, key=lambda e: (order.get(e.stage, len(order)), e.stage, e.item, e.key))
        return [
            CallCost(
                key=e.key,
                stage=e.stage,
                item=e.item,
                agent=e.agent,
                model=e.model,
                input_tokens=e.usage.input_tokens,
                output_tokens=e.usage.output_tokens,
                cost_usd=e.usage.cost_usd,
            )
            for e in entries
        ]


# -- the up-front estimate ---------------------------------------------------------------------

TOOL_SCHEMA_TOKENS = 400  # the output tool's JSON schema, sent with every request
# Rough answer sizes, from runs on the corpus: extraction quotes about half of what it reads.
EXTRACTION_OUTPUT_RATIO = 0.5
DESIGN_OUTPUT_TOKENS = 400
EXAMPLE_INPUT_TOKENS = 900  # test case, use case, policies and their evidence
EXAMPLE_OUTPUT_TOKENS = 600
REVIEW_INPUT_TOKENS = 700  # one example and its policies, in a batch
REVIEW_OUTPUT_TOKENS = 60
EXAMPLES_PER_SECTION = 3  # a covering array gives each use case (~ a section) about one row per axis value


@dataclass
class Estimate:
    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0
    examples: int = 0
    usd: Decimal | None = None
    parts: dict[str, int] = field(default_factory=dict)

    def add(self, part: str, calls: int, input_tokens: float, output_tokens: float) -> None:
        self.calls += calls
        self.input_tokens += int(input_tokens)
        self.output_tokens += int(output_tokens)
        self.parts[part] = self.parts.get(part, 0) + calls


def estimate_run(
    windows_per_document: Sequence[Sequence[int]],
    sections_per_document: Sequence[int],
    prompt_chars: dict[str, int],
    max_examples: int | None,
    price_per_mtok: ModelPrice | None,
) -> Estimate:
    """A cheap estimate of a fresh run's tokens and cost, before any call: no retries, no revisions.

    `windows_per_document` gives the token size of each extraction batch; `prompt_chars` the
    length of each agent's instructions.
    """
    estimate = Estimate()

    def instructions(agent: str) -> float:
        return prompt_chars.get(agent, 0) / CHARS_PER_TOKEN + TOOL_SCHEMA_TOKENS

    for windows in windows_per_document:
        read = sum(windows)
        estimate.add(
            "extract", len(windows), len(windows) * instructions("extraction") + read, read * EXTRACTION_OUTPUT_RATIO
        )
        estimate.add("design", 1, instructions("designer") + read * EXTRACTION_OUTPUT_RATIO, DESIGN_OUTPUT_TOKENS)
    examples = sum(max(1, sections) * EXAMPLES_PER_SECTION for sections in sections_per_document)
    if max_examples is not None:
        examples = min(examples, max_examples)
    estimate.examples = examples
    estimate.add(
        "write", examples, examples * (instructions("example_writer") + EXAMPLE_INPUT_TOKENS),
        examples * EXAMPLE_OUTPUT_TOKENS,
    )  # fmt: skip
    batches = -(-examples // REVIEW_BATCH_SIZE)
    estimate.add(
        "supervise", batches, batches * instructions("supervisor") + examples * REVIEW_INPUT_TOKENS,
        examples * REVIEW_OUTPUT_TOKENS,
    )  # fmt: skip
    if price_per_mtok is not None:
        million = Decimal(1_000_000)
        estimate.usd = (
            Decimal(estimate.input_tokens) * price_per_mtok.input_mtok
            + Decimal(estimate.output_tokens) * price_per_mtok.output_mtok
        ) / million
    return estimate


def recorded_cost(calls_path: Path) -> Decimal:
    """What the answers already in calls.jsonl cost at list price: a resumed run does not pay for them again.

    Only records the run will replay count (the run itself reports the others when it loads the file).
    """
    records = read_calls(calls_path).records
    return sum((price(RESPONSE.validate_python(record.response)) or Decimal(0) for record in records), Decimal(0))


def estimate_for(
    documents: Sequence[SourceDocument], price_per_mtok: ModelPrice | None, *, window_tokens: int,
    max_examples: int | None,
) -> Estimate:  # fmt: skip
    """The up-front estimate of a fresh run over these documents."""
    return estimate_run(
        [
            # What each batch shows of the document; the answer is estimated from it below.
            [
                sum(candidate_tokens(c) - ANSWER_TOKENS_PER_CANDIDATE for c in batch)
                for batch in candidate_batches(segment(doc), window_tokens)
            ]
            for doc in documents
        ],
        [len(doc.sections) for doc in documents],
        {p.name: len(p.text) for p in all_prompts()},
        max_examples,
        price_per_mtok,
    )


def check_budget(
    documents: Sequence[SourceDocument],
    model: Model,
    model_label: str,
    max_cost: Decimal | None,
    *,
    window_tokens: int,
    max_examples: int | None,
    replay: bool,
    calls_path: Path,
) -> Estimate | None:
    """Refuse to start when --max-cost cannot be enforced (no price) or the estimate already exceeds it.

    Runs before the run directory is created, so a refused run writes nothing. Answers already
    recorded in calls.jsonl are subtracted: a resumed run only pays for what is left.
    """
    if max_cost is None or replay:
        return None
    model_price_ = model_price(model)
    if model_price_ is None:
        raise BudgetExceeded(
            f"--max-cost needs a price, and {model_label} has none in genai-prices {PRICES_VERSION}: "
            "drop --max-cost, or choose a priced model"
        )
    estimate = estimate_for(documents, model_price_, window_tokens=window_tokens, max_examples=max_examples)
    assert estimate.usd is not None
    already = recorded_cost(calls_path)
    remaining = max(estimate.usd - already, Decimal(0))
    log.info(
        "estimated cost %s: %d model calls for ~%d examples, %s tokens in / %s out, before retries%s; --max-cost %s",
        usd(remaining),
        estimate.calls,
        estimate.examples,
        f"{estimate.input_tokens:,}",
        f"{estimate.output_tokens:,}",
        f" ({usd(already)} already recorded)" if already else "",
        usd(max_cost),
        extra={"event": "estimate", "estimate_usd": float(remaining), "max_cost_usd": float(max_cost)},
    )
    if remaining > max_cost:
        raise BudgetExceeded(
            f"estimated cost {usd(remaining)} ({estimate.calls} model calls for ~{estimate.examples} examples, "
            f"before retries) exceeds --max-cost {usd(max_cost)}: raise --max-cost, or lower --max-examples"
        )
    return estimate
