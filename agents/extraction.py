"""Extraction agent: one window of the document -> use cases and policies with line-cited evidence."""

from dataclasses import dataclass

from pydantic_ai import ModelRetry, RunContext

from synthgen.agents.shared import document_tools, is_last_attempt, pipeline_agent, retry_message
from synthgen.schemas.document import SourceDocument, Window
from synthgen.schemas.drafts import ExtractionDraft
from synthgen.tools import evidence as evidence_tools
from synthgen.tools.repairs import repair_extraction


@dataclass(frozen=True)
class ExtractionDeps:
    document: SourceDocument
    window: Window


extraction_agent = pipeline_agent("extraction", ExtractionDraft, ExtractionDeps, [document_tools])


def extraction_prompt(deps: ExtractionDeps) -> str:
    """The user message: where the window is and its lines, numbered as in the file."""
    window, document = deps.window, deps.document
    heading = " > ".join(window.heading_path) or "(before the first heading)"
    lines = evidence_tools.numbered_lines(document, window.line_start, window.line_end)
    return (
        f"Document: {document.file_name}\n"
        f"Section: {heading}\n"
        f"Lines {window.line_start}-{window.line_end} of {document.line_count}. The numbers before ' | ' are "
        "the file's line numbers: cite them as shown, and copy quotes without the 'NN | ' prefix.\n\n"
        f"<document>\n{lines}\n</document>"
    )


@extraction_agent.tool
def find_quote(ctx: RunContext[ExtractionDeps], text: str) -> str:
    """Return the lines where `text` occurs in the document, each as "NN | text"; if it is nowhere, the closest line."""
    document = ctx.deps.document
    matches = evidence_tools.find_quote(document, text)
    if not matches:
        line, _ = evidence_tools.closest_line(document, text)
        return "The quote is nowhere in the document. Closest line:\n" + evidence_tools.numbered_lines(
            document, line, line
        )
    shown = matches[:5]  # a quote repeated dozens of times is too vague to cite anyway
    blocks = [
        f"lines {m.line_start}-{m.line_end}:\n{evidence_tools.numbered_lines(document, m.line_start, m.line_end)}"
        for m in shown
    ]
    more = f"\n(and {len(matches) - len(shown)} more places)" if len(matches) > len(shown) else ""
    return f"Found in {len(matches)} place(s):\n" + "\n".join(blocks) + more


@extraction_agent.output_validator
def validate_extraction(ctx: RunContext[ExtractionDeps], draft: ExtractionDraft) -> ExtractionDraft:
    """Ground every evidence, keep use-case names unique and make applies_to point at them.

    Problems go back to the model while it has retries left. On the last attempt the answer is
    salvaged instead: ungrounded evidence and repeated use cases are left out (counted in the
    answer's `dropped`), so a model that repeats its mistake still yields what it got right, and
    nothing ungrounded gets through either way. applies_to names are repaired, never retried.
    """
    repaired = repair_extraction(ctx.deps.document, draft)
    salvaged = repaired.result
    if repaired.problems and (not is_last_attempt(ctx) or not (salvaged.use_cases or salvaged.policies)):
        raise ModelRetry(retry_message(repaired.problems))
    return salvaged.model_copy(update={"repairs": repaired.counts})
