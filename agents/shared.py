"""What the agents share: how one is built, the lookup_lines tool, the retry message, the last-attempt test."""

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from pydantic_ai import Agent, ModelRetry, RunContext
from pydantic_ai.toolsets import AbstractToolset, FunctionToolset

from synthgen.agents.prompts import load_prompt
from synthgen.errors import LineRangeError
from synthgen.schemas.document import SourceDocument
from synthgen.tools.evidence import numbered_lines

DepsT = TypeVar("DepsT")
OutputT = TypeVar("OutputT")


def pipeline_agent(
    name: str, output_type: type[OutputT], deps_type: type[DepsT], toolsets: Sequence[AbstractToolset[Any]] = ()
) -> Agent[DepsT, OutputT]:
    """An agent of the pipeline, instructed by its prompt template `agents/<name>.prompt.md`.

    It has no model of its own: the orchestrator passes model= and model_settings= to each run.
    An answer that fails the output validator goes back to the model twice before the item fails.
    """
    return Agent(
        None,
        name=name,
        output_type=output_type,
        deps_type=deps_type,
        instructions=load_prompt(name).text,
        toolsets=toolsets,
        retries=2,
        defer_model_check=True,
    )


class ReadsDocument(Protocol):
    """Deps of an agent that answers about one document."""

    @property
    def document(self) -> SourceDocument: ...


document_tools: FunctionToolset[ReadsDocument] = FunctionToolset()


@document_tools.tool
def lookup_lines(ctx: RunContext[ReadsDocument], start: int, end: int) -> str:
    """Return lines `start` to `end` (1-based, inclusive) of the document, each as "NN | text"."""
    try:
        return numbered_lines(ctx.deps.document, start, end)
    except LineRangeError as error:
        raise ModelRetry(str(error)) from error


def retry_message(problems: Sequence[str]) -> str:
    """All problems of one answer in one message, so the model can fix them in one go."""
    return "Fix these problems and answer again:\n" + "\n".join(f"- {problem}" for problem in problems)


def is_last_attempt(ctx: RunContext[object]) -> bool:
    """Whether a ModelRetry now would end the run instead of asking again."""
    return ctx.retry >= ctx.max_retries
