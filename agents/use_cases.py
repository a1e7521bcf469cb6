"""Use-case agent: the headings of a document's rule-bearing sections -> which ones name a situation.

One small call per document. The code knows which sections hold rules and where their headings
are (so a use case's evidence is its heading line, verified by construction); the model only
tells a situation ("cancel a pending order") from a topic area ("domain basics").
"""

from dataclasses import dataclass

from pydantic_ai import Agent, ModelRetry, RunContext

from synthgen.agents.prompts import load_prompt
from synthgen.agents.shared import is_last_attempt, retry_message
from synthgen.schemas.document import SourceDocument
from synthgen.schemas.drafts import SituationsDraft

PROMPT = load_prompt("use_cases")


@dataclass(frozen=True)
class Heading:
    path: tuple[str, ...]
    rules: int  # how many rules its own text states


@dataclass(frozen=True)
class UseCaseDeps:
    document: SourceDocument
    headings: tuple[Heading, ...]  # numbered from 1 in the prompt


use_case_agent = Agent(
    None,  # the orchestrator passes model= and model_settings= to each run
    name="use_cases",
    output_type=SituationsDraft,
    deps_type=UseCaseDeps,
    instructions=PROMPT.text,
    retries=2,
    defer_model_check=True,
)


def use_case_prompt(deps: UseCaseDeps) -> str:
    lines = [f"Document: {deps.document.file_name}", ""]
    for number, heading in enumerate(deps.headings, 1):
        lines.append(f"[{number}] {' > '.join(heading.path)} ({heading.rules} rules)")
    count = len(deps.headings)
    lines += ["", f"Give exactly {count} entries, for headings 1 to {count}, in order."]
    return "\n".join(lines)


def unanswered(deps: UseCaseDeps, draft: SituationsDraft) -> list[int]:
    answered = {entry.n for entry in draft.headings}
    return [n for n in range(1, len(deps.headings) + 1) if n not in answered]


@use_case_agent.output_validator
def validate_situations(ctx: RunContext[UseCaseDeps], draft: SituationsDraft) -> SituationsDraft:
    """Every heading answered; on the last attempt a heading left out counts as no situation."""
    missing = unanswered(ctx.deps, draft)
    if missing and not is_last_attempt(ctx):
        numbers = ", ".join(map(str, missing))
        raise ModelRetry(retry_message([f"no entry for heading(s) {numbers}: give exactly one entry per heading"]))
    return draft
