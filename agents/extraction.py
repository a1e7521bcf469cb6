"""Extraction agent: one window of the document -> use cases and policies with line-cited evidence."""

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pydantic_ai import Agent, ModelRetry, RunContext

from synthgen.agents.prompts import load_prompt
from synthgen.errors import LineRangeError
from synthgen.schemas.document import SourceDocument, Window
from synthgen.schemas.drafts import ExtractionDraft, PolicyDraft, UseCaseDraft
from synthgen.schemas.items import Evidence
from synthgen.tools import evidence as evidence_tools
from synthgen.tools.evidence import EvidenceCheck
from synthgen.tools.ids import normalize_key

PROMPT = load_prompt("extraction")
_EXCERPT = 60  # characters of an item shown in retry messages, enough to recognise it


@dataclass
class ExtractionDeps:
    document: SourceDocument
    window: Window
    evidence_repairs: Counter[str] = field(default_factory=Counter)  # in the accepted answer; set by the validator
    repaired_names: int = 0  # applies_to names mapped to a use case's exact name, or left out
    dropped: int = 0  # items left out of the accepted answer because nothing grounds them; set by the validator


extraction_agent = Agent(
    None,  # the orchestrator passes model= and model_settings= to each run
    name="extraction",
    output_type=ExtractionDraft,
    deps_type=ExtractionDeps,
    instructions=PROMPT.text,
    retries=2,
    defer_model_check=True,
)


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


def excerpt(text: str, limit: int = _EXCERPT) -> str:
    text = evidence_tools.collapse_whitespace(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# The names evidence repairs are counted under, in the manifest's stage notes, in this order.
EVIDENCE_REPAIRS = ("evidence_relocated", "quote_line_numbers_removed", "quote_trimmed", "quote_reworded_to_source")


@dataclass(frozen=True)
class AnchoredEvidence:
    evidence: list[Evidence]  # the grounded ones, repaired where a deterministic repair grounds them
    repairs: Counter[str]  # how many of each EVIDENCE_REPAIRS made it in
    problems: list[str]  # one line per evidence that cannot be repaired (left out of `evidence`)


def repair_evidence(document: SourceDocument, item: Evidence, check: EvidenceCheck) -> tuple[Evidence, str] | None:
    """The first deterministic repair the checker accepts, and its name; None if none does."""
    attempts: tuple[tuple[str, Callable[[], Evidence | None]], ...] = (
        ("evidence_relocated", lambda: evidence_tools.relocate(item, check)),
        ("quote_trimmed", lambda: evidence_tools.trim_to_verbatim(document, item)),
        ("quote_reworded_to_source", lambda: evidence_tools.match_reworded_quote(document, item)),
    )
    for name, attempt in attempts:
        repaired = attempt()
        if repaired is not None and evidence_tools.check_evidence(document, repaired).ok:
            return repaired, name
    return None


def anchor_evidence(document: SourceDocument, evidence: Sequence[Evidence], label: str) -> AnchoredEvidence:
    """Check each evidence against the whole document, repairing what can be repaired deterministically.

    Small models often copy a quote correctly but invent its line numbers, copy the "NN | "
    prefixes of their numbered view, drift into their own words halfway through a quote, or
    reword a line slightly. Each repair is deterministic, costs no retry, and its result is
    checked like any other evidence.
    """
    anchored: list[Evidence] = []
    repairs: Counter[str] = Counter()
    problems: list[str] = []
    for number, item in enumerate(evidence, 1):
        if not evidence_tools.collapse_whitespace(item.quote):
            # The checker would find an empty quote "inside" any line; it grounds nothing.
            problems.append(f"{label} evidence {number}: the quote is blank; copy the supporting text verbatim")
            continue
        check = evidence_tools.check_evidence(document, item)
        unnumbered = None if check.ok else evidence_tools.without_line_numbers(item)
        if unnumbered is not None:  # tried second: a table row of the document may itself read "12 | ..."
            item = unnumbered
            check = evidence_tools.check_evidence(document, item)
        repaired = (item, None) if check.ok else repair_evidence(document, item, check)
        if repaired is None:
            problems.append(f"{label} evidence {number}: {check.message}")
            continue
        grounded, repair = repaired
        anchored.append(grounded)
        if repair is not None:
            repairs[repair] += 1
        if unnumbered is not None:
            repairs["quote_line_numbers_removed"] += 1
    return AnchoredEvidence(anchored, repairs, problems)


_ARTICLES = frozenset({"a", "an", "the"})


def _name_words(name: str) -> list[str]:
    return [word for word in re.findall(r"[^\W_]+", name.casefold()) if word not in _ARTICLES]


def match_use_case_name(name: str, use_case_names: Sequence[str]) -> str | None:
    """The use case a loosely written name means: the one with the same words ignoring case,
    articles and punctuation, else the only one whose name holds all of its words."""
    words = _name_words(name)
    if not words:
        return None
    same = [candidate for candidate in use_case_names if _name_words(candidate) == words]
    if len(same) == 1:
        return same[0]
    holding = [candidate for candidate in use_case_names if set(words) <= set(_name_words(candidate))]
    return holding[0] if len(holding) == 1 else None


def retry_message(problems: Sequence[str]) -> str:
    """All problems of one answer in one message, so the model can fix them in one go."""
    return "Fix these problems and answer again:\n" + "\n".join(f"- {problem}" for problem in problems)


@extraction_agent.tool
def lookup_lines(ctx: RunContext[ExtractionDeps], start: int, end: int) -> str:
    """Return lines `start` to `end` (1-based, inclusive) of the document, each as "NN | text"."""
    try:
        return evidence_tools.numbered_lines(ctx.deps.document, start, end)
    except LineRangeError as error:
        raise ModelRetry(str(error)) from error


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


def is_last_attempt(ctx: RunContext[object]) -> bool:
    """Whether a ModelRetry now would end the run instead of asking again."""
    return ctx.retry >= ctx.max_retries


@extraction_agent.output_validator
def validate_extraction(ctx: RunContext[ExtractionDeps], draft: ExtractionDraft) -> ExtractionDraft:
    """Ground every evidence, keep use-case names unique and make applies_to point at them.

    Problems go back to the model while it has retries left. On the last attempt the answer is
    salvaged instead: ungrounded evidence and repeated use cases are left out (counted in
    `deps.dropped`), so a model that repeats its mistake still yields what it got right, and
    nothing ungrounded gets through either way. applies_to names are repaired, never retried.
    """
    # Only the accepted answer counts, not earlier attempts.
    ctx.deps.evidence_repairs = Counter()
    ctx.deps.repaired_names = ctx.deps.dropped = 0
    document = ctx.deps.document
    problems: list[str] = []
    repairs: Counter[str] = Counter()
    dropped = repaired_names = 0

    names: dict[str, str] = {}  # normalized name -> name as first written
    use_cases: list[UseCaseDraft] = []
    for number, use_case in enumerate(draft.use_cases, 1):
        label = f'use case {number} ("{excerpt(use_case.name)}")'
        key = normalize_key(use_case.name)
        anchored = anchor_evidence(document, use_case.evidence, label)
        problems += anchored.problems
        repairs += anchored.repairs
        if key in names:
            problems.append(f"{label}: the name repeats use case {names[key]!r}; give each use case a distinct name")
        elif anchored.evidence:
            names[key] = use_case.name
            use_cases.append(use_case.model_copy(update={"evidence": anchored.evidence}))
            continue
        dropped += 1

    policies: list[PolicyDraft] = []
    for number, policy in enumerate(draft.policies, 1):
        label = f'policy {number} ("{excerpt(policy.statement)}")'
        applies_to: list[str] = []
        for name in policy.applies_to:
            known = names.get(normalize_key(name))
            if known is None:
                # A near-miss is mapped, an unknown name left out (with none left, the rule governs
                # every use case): which use cases a rule governs only steers test design, and a
                # retry for it costs a whole answer. Counted, like every repair.
                known = match_use_case_name(name, list(names.values()))
                repaired_names += 1
            if known is not None and known not in applies_to:
                applies_to.append(known)  # canonical spelling, so the orchestrator can map names to ids
        anchored = anchor_evidence(document, policy.evidence, label)
        problems += anchored.problems
        repairs += anchored.repairs
        if anchored.evidence:
            policies.append(policy.model_copy(update={"evidence": anchored.evidence, "applies_to": applies_to}))
        else:
            dropped += 1

    if problems and (not is_last_attempt(ctx) or not (use_cases or policies)):
        raise ModelRetry(retry_message(problems))
    ctx.deps.evidence_repairs = repairs
    ctx.deps.repaired_names = repaired_names
    ctx.deps.dropped = dropped
    return ExtractionDraft(use_cases=use_cases, policies=policies)
