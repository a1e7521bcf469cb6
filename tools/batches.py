"""Candidates -> batches for the extraction agent, in document order, sized by a token budget.

One call per candidate would repeat the instructions for every sentence; one call for a whole
document would ask a small model for a hundred decisions in a row. A batch holds consecutive
candidates while its estimated tokens (what the prompt shows of each candidate, plus the answer
it needs) fit the budget, and never more than the answer's schema allows.
"""

from synthgen.errors import InputError
from synthgen.schemas.candidates import Candidate
from synthgen.schemas.document import SourceDocument
from synthgen.schemas.drafts import MAX_BATCH_CANDIDATES

CHARS_PER_TOKEN = 4  # a rough estimate for English text, good enough for budgets and cost estimates
# Tokens of one decision in the answer: a rule with its kind, strength, conditions and statement.
ANSWER_TOKENS_PER_CANDIDATE = 45


def candidate_tokens(candidate: Candidate) -> int:
    """Estimated tokens a candidate costs a batch: its text and context as shown, and its decision."""
    shown = len(candidate.text) + len(candidate.header or "") + sum(len(line) for line in candidate.lead_in)
    return -(-shown // CHARS_PER_TOKEN) + ANSWER_TOKENS_PER_CANDIDATE


def candidate_batches(candidates: list[Candidate], max_tokens: int) -> list[list[Candidate]]:
    """Consecutive candidates grouped while they fit `max_tokens`; a candidate too big alone is a batch alone."""
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    batches: list[list[Candidate]] = []
    used = 0
    for candidate in candidates:
        cost = candidate_tokens(candidate)
        if not batches or used + cost > max_tokens or len(batches[-1]) >= MAX_BATCH_CANDIDATES:
            batches.append([])
            used = 0
        batches[-1].append(candidate)
        used += cost
    return batches


class LineTooLong(InputError):
    """One line of the document is over the batch budget on its own."""


def refuse_long_lines(doc: SourceDocument, max_tokens: int) -> None:
    """Refuse, naming it, a line that alone is over `max_tokens`: a prompt that size helps no model,
    and the run would only learn it after paying for the calls before it."""
    for number, line in enumerate(doc.lines, 1):
        tokens = -(-len(line) // CHARS_PER_TOKEN)
        if tokens > max_tokens:
            raise LineTooLong(
                f"{doc.path} line {number} is about {tokens:,} tokens, more than one extraction batch holds "
                f"(--window-tokens {max_tokens:,}): break the line up, or raise --window-tokens"
            )
