"""Extraction agent: a batch of numbered candidate statements -> one decision per candidate.

The code found every candidate (tools/segment.py) and its evidence verifies by construction; the
model only decides: rule or not, and for a rule its kind, strength, conditions, who it binds and
a statement that reads alone. The checks live in tools/decisions.py and the extract stage applies
them to the answer: every problem they find has a deterministic fallback (a misnumbered decision
is realigned, a statement that drops a number or invents text becomes the candidate's own words,
a rule-worded candidate called no rule is decided by its cue, a skipped candidate is asked again
in a follow-up batch), so no answer is sent back for its content. A retry regenerates the whole
batch: minutes on the embedded model (measured: ~1,700 tokens at ~5.5 tokens/s on two cores) to
fix what the fallback fixes at once.

No tools: the small local models never call them, and their definitions cost every request tokens.
Each candidate arrives with the context a tool would have fetched (heading path, lead-in, header).
"""

from dataclasses import dataclass

from synthgen.agents.shared import pipeline_agent
from synthgen.schemas.candidates import Candidate
from synthgen.schemas.document import SourceDocument
from synthgen.schemas.drafts import DecisionsDraft


@dataclass(frozen=True)
class ExtractionDeps:
    document: SourceDocument
    candidates: tuple[Candidate, ...]  # numbered from 1 in the prompt


extraction_agent = pipeline_agent("extraction", DecisionsDraft, ExtractionDeps)


def extraction_prompt(deps: ExtractionDeps) -> str:
    """The user message: the numbered candidates under their headings, each with its lead-in or header."""
    lines = [f"Document: {deps.document.file_name}", ""]
    heading: list[str] | None = None
    lead_in: list[str] = []
    header: str | None = None
    for number, candidate in enumerate(deps.candidates, 1):
        if candidate.heading_path != heading:
            heading, lead_in, header = candidate.heading_path, [], None
            lines += ["", f"## {' > '.join(heading) or '(before the first heading)'}"]
        if candidate.lead_in and candidate.lead_in != lead_in and candidate.kind != "code":
            lines.append(f"List introduced by: {' / '.join(candidate.lead_in)}")
        lead_in = candidate.lead_in
        if candidate.header is not None and candidate.header != header:
            lines.append(f"Table header: {candidate.header}")
        header = candidate.header
        if candidate.kind == "code":
            before = f" (after: {candidate.lead_in[-1]})" if candidate.lead_in else ""
            lines.append(f"[{number}] code block{before}:\n{candidate.text}")
        else:
            lines.append(f"[{number}] {candidate.text}")
    count = len(deps.candidates)
    lines += ["", f"Give exactly {count} decisions, for candidates 1 to {count}, in order."]
    return "\n".join(lines).replace("\n\n\n", "\n\n")
