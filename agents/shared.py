"""What the agents share: the lookup_lines tool, the retry message and the last-attempt test."""

from collections.abc import Sequence
from typing import Protocol

from pydantic_ai import ModelRetry, RunContext
from pydantic_ai.toolsets import FunctionToolset

from synthgen.errors import LineRangeError
from synthgen.schemas.document import SourceDocument
from synthgen.tools.evidence import numbered_lines


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
