"""Deterministic checks of the extraction model's decisions, one per candidate it was shown.

The code found the candidates (tools/segment.py); the model decides each one. These pure
functions check its answer and say what each candidate comes to, so the right answer never
depends on the model's luck:

- every candidate shown gets a decision; one missing is reported, and the stage asks it again in a
  follow-up batch of the missing ones only (it is decided by the rule below only if it is still
  missing then). Missing decisions are no reason to retry: a retry regenerates the whole batch,
  and small models that stop early (measured: the 1.5B model answered 12 of 21 candidates, then
  ended its answer) do so again on a longer prompt;
- a decision whose statement plainly names another nearby candidate than its number points at
  is moved there, and the decisions after it follow (`decision_realigned`, see realigned_numbers);
- a decision for a number that was not shown is ignored, and counted;
- a rule the model calls an obligation or permission whose candidate forbids (must not, never,
  may not, cannot, do not, ...) is a prohibition (`kind_from_cue`);
- a rule's statement must keep every number of its candidate (amounts, days, percentages) and be
  made mostly of the candidate's words (with its lead-in, table header and headings): a
  statement that drops a number or invents text falls back to the candidate's own words;
- a candidate with a strong normative cue (must, must not, shall, never, required, prohibited,
  not allowed, may not, cannot, only) that the model calls no rule is decided by the cue: it
  becomes a rule in its own words, strength "must" (`rule_by_normative_cue`). A sentence with
  such a cue states a constraint in the documents this tool reads; the gold lists' definition of
  a rule says the same.

Every check has its fallback, so no answer is sent back for its content (agents/extraction.py
says why); the extract stage calls `check_decisions` on each answer for the final decisions and
the counts.
"""

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from synthgen.schemas.candidates import Candidate, DecidedBy, NotRuleReason
from synthgen.schemas.drafts import DecisionsDraft, RuleDraft
from synthgen.schemas.items import PolicyKind
from synthgen.tools.evidence import collapse_whitespace
from synthgen.tools.recall import content_words

NORMATIVE_CUE = re.compile(
    r"\b(must|shall|never|required|prohibited|not allowed|may not|cannot|can't|only)\b", re.IGNORECASE
)
_PROHIBITIVE_CUE = re.compile(
    r"\b(must not|mustn't|shall not|never|prohibited|not allowed|may not|cannot|can't|do not|don't)\b", re.IGNORECASE
)
# Any modal or normative word, or one that names rules (conditions, requirements, limits): a candidate
# holding one, or under a lead-in holding one, is never overruled as a plain list.
_MODAL_WORD = re.compile(
    r"\b(must|mustn't|shall|should|may|might|can|could|cannot|can't|will|won't|would|never|always|only|not|"
    r"no|none|don't|requir\w*|needs?|condition\w*|rules?|restrict\w*|limit\w*|exception\w*|criteri\w*|eligib\w*|allow\w*|permit\w*|prohibit\w*|forbid\w*|ensure\w*|"
    r"at most|at least|ha(?:ve|s) to|please)\b",
    re.IGNORECASE,
)
# A lead-in that introduces what something has: "Each order has the following attributes:", "containing:".
_FIELD_LIST_LEAD_IN = re.compile(
    r"\b(has|have|having|contains?|containing|includes?|including|consists? of|attributes|fields|properties)\b[^:]*:\s*$",
    re.IGNORECASE,
)
# A sentence listing the kinds of something: "There are three types of payment methods: ...".
_VALUE_LIST = re.compile(r"^\W*(there (are|is)|\w+ (has|have) \w+) (\w+ )?(types|kinds|sorts) of\b", re.IGNORECASE)
PLAIN_ITEM_WORDS = 8  # a field is named in a few words; a longer item may state something

# A number as written: digits with their separators ("1,000", "4.50", "24/7", "9:00").
_NUMBER = re.compile(r"\d+(?:[.,:/]\d+)*")
# Share of a statement's content words that must come from its candidate, lead-in, header or headings.
OWN_WORDS_SHARE = 0.6
_EMPHASIS = re.compile(r"\*\*|__")


@dataclass(frozen=True)
class Decided:
    """What one candidate comes to: not a rule (with the reason), or one or more rules."""

    candidate: Candidate
    is_rule: bool
    reason: str  # "rule", or why not (NotRuleReason)
    decided_by: DecidedBy
    rules: tuple[RuleDraft, ...] = ()  # statements final: the model's, or the candidate's own words


@dataclass(frozen=True)
class DecisionCheck:
    decided: dict[str, Decided]  # candidate id -> decision, for the candidates the answer decided
    missing: list[Candidate]  # shown, not decided: for the follow-up batch, not for a retry
    notes: Counter[str] = field(default_factory=Counter)  # what was ignored or replaced, by reason code


def normative_cue(candidate: Candidate) -> str | None:
    """The strong normative cue in the candidate's own text (a code block never has one), else None."""
    if candidate.kind == "code":
        return None
    match = NORMATIVE_CUE.search(candidate.text)
    return match.group(1).casefold() if match else None


def plain_list(candidate: Candidate) -> bool:
    """Whether the candidate is part of a plain list of fields or values (the module docstring's rule)."""
    text = _EMPHASIS.sub("", candidate.text)
    if candidate.kind not in ("list_item", "sentence") or any(
        _MODAL_WORD.search(part) for part in [text, *candidate.lead_in]
    ):
        return False
    if candidate.kind == "list_item":
        return (
            bool(candidate.lead_in)
            and _FIELD_LIST_LEAD_IN.search(_EMPHASIS.sub("", candidate.lead_in[-1])) is not None
            and len(text.split()) <= PLAIN_ITEM_WORDS
        )
    return _FIELD_LIST_LEAD_IN.search(text) is not None or _VALUE_LIST.search(text) is not None


def cue_kind(candidate: Candidate) -> PolicyKind:
    return "prohibition" if _PROHIBITIVE_CUE.search(candidate.text) else "obligation"


def own_statement(candidate: Candidate) -> str:
    """The candidate's rule in its own words, readable alone: a list item after its innermost lead-in,
    a table row as "column: value" pairs when it has as many cells as its header."""
    text = _EMPHASIS.sub("", candidate.text)
    if candidate.header is not None:
        names, cells = _cells(candidate.header), _cells(text)
        if len(names) == len(cells):
            return "; ".join(f"{name}: {cell}" for name, cell in zip(names, cells) if cell)
    if candidate.kind == "list_item" and candidate.lead_in:
        return f"{_EMPHASIS.sub('', candidate.lead_in[-1])} {text}"
    return text


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def numbers_in(text: str) -> list[str]:
    return list(dict.fromkeys(_NUMBER.findall(text)))


def dropped_numbers(candidate: Candidate, statement: str) -> list[str]:
    """The candidate's numbers the statement does not keep, as written."""
    kept = set(_NUMBER.findall(statement))
    return [number for number in numbers_in(candidate.text) if number not in kept]


def source_words(candidate: Candidate) -> frozenset[str]:
    """Content words a statement may draw on: the candidate's, its lead-ins', header's and headings'."""
    context = [candidate.text, *candidate.lead_in, candidate.header or "", *candidate.heading_path]
    return content_words(" ".join(context))


def invented_share(candidate: Candidate, statement: str) -> float:
    """Share of the statement's content words found nowhere in the candidate or its context."""
    words = content_words(statement)
    if not words:
        return 0.0
    return len(words - source_words(candidate)) / len(words)


def statement_problem(candidate: Candidate, statement: str) -> tuple[str, str] | None:
    """(reason code, message) when a statement must fall back to the candidate's own words."""
    dropped = dropped_numbers(candidate, statement)
    if dropped:
        return "statement_dropped_number", f"the statement drops {', '.join(dropped)}: keep every number exactly"
    if 1 - invented_share(candidate, statement) < OWN_WORDS_SHARE:
        return (
            "statement_invented",
            "the statement uses words the candidate does not: restate the candidate's own words",
        )
    return None


# A decision's statement names its candidate: it holds this share of that candidate's content words,
# and at most REALIGN_OTHER of the candidate its number points at (the model numbered off by one or more).
REALIGN_SHARE = 0.8
REALIGN_OTHER = 0.5
REALIGN_REACH = 5  # how far a decision's number may be off and still be realigned


def _share(statement: str, candidate: Candidate) -> float:
    """Share of the statement's content words in the candidate as shown (with its lead-ins and header)."""
    words = content_words(statement)
    shown = content_words(" ".join([*candidate.lead_in, candidate.text, candidate.header or ""]))
    return len(words & shown) / len(words) if words else 0.0


def realigned_numbers(candidates: Sequence[Candidate], draft: DecisionsDraft) -> list[int]:
    """Each decision's number, corrected where its statement plainly names another candidate.

    Small models skip a candidate or fold a list into one decision and then number every later
    decision off by one or two (measured on the 1.5B: 18 decisions of a 20-candidate batch, each
    stating the candidate two further on). A decision whose statement holds REALIGN_SHARE of one
    nearby candidate's content words and at most REALIGN_OTHER of its own is moved to that
    candidate; the decisions after it without a statement (not-a-rule, or empty) follow the same
    offset, until a statement says otherwise.
    """
    numbers: list[int] = []
    offset = 0
    for decision in draft.decisions:
        statement = next((r.statement for r in decision.rules if r.statement.strip()), "")
        if statement and 1 <= decision.n <= len(candidates):
            if _share(statement, candidates[decision.n - 1]) > REALIGN_OTHER:
                offset = 0
            else:
                nearby = [
                    (_share(statement, candidates[k - 1]), k)
                    for k in range(
                        max(1, decision.n - REALIGN_REACH), min(len(candidates), decision.n + REALIGN_REACH) + 1
                    )
                ]
                best, k = max(nearby)
                if best >= REALIGN_SHARE and sum(1 for share, _ in nearby if share == best) == 1:
                    offset = k - decision.n
        numbers.append(decision.n + offset)
    return numbers


def corrected_kind(rule: RuleDraft, candidate: Candidate) -> PolicyKind:
    """An obligation or permission whose candidate (with its lead-ins) forbids (must not, never, ...) is a prohibition."""
    if rule.kind in ("obligation", "permission") and _PROHIBITIVE_CUE.search(
        " ".join([*candidate.lead_in, candidate.text])
    ):
        return "prohibition"
    return rule.kind


def _final_rule(candidate: Candidate, rule: RuleDraft, check: DecisionCheck) -> RuleDraft:
    kind = corrected_kind(rule, candidate)
    if kind != rule.kind:
        check.notes["kind_from_cue"] += 1
        rule = rule.model_copy(update={"kind": kind})
    statement = collapse_whitespace(rule.statement)
    if not statement:
        return rule.model_copy(update={"statement": own_statement(candidate)})
    problem = statement_problem(candidate, statement)
    if problem is None:
        return rule.model_copy(update={"statement": statement})
    code, _ = problem
    check.notes[code] += 1
    return rule.model_copy(update={"statement": own_statement(candidate)})


def cue_rule(candidate: Candidate) -> RuleDraft:
    """The rule a candidate with a normative cue states, in its own words."""
    return RuleDraft(kind=cue_kind(candidate), strength="must", statement=own_statement(candidate))


def check_decisions(candidates: Sequence[Candidate], draft: DecisionsDraft) -> DecisionCheck:
    """The decisions the answer makes for the numbered `candidates` (1-based, as shown), and the counts."""
    check = DecisionCheck(decided={}, missing=[])
    numbers = realigned_numbers(candidates, draft)
    realigned = sum(1 for d, n in zip(draft.decisions, numbers) if d.n != n)
    if realigned:
        check.notes["decision_realigned"] += realigned
    for decision, number in zip(draft.decisions, numbers):
        decision = decision.model_copy(update={"n": number}) if number != decision.n else decision
        if not 1 <= decision.n <= len(candidates):
            check.notes["decision_for_unknown_candidate"] += 1
            continue
        candidate = candidates[decision.n - 1]
        if candidate.id in check.decided:
            check.notes["repeated_decision_ignored"] += 1
            continue
        if not decision.is_rule:
            if normative_cue(candidate) is not None:
                check.notes["rule_by_normative_cue"] += 1
                check.decided[candidate.id] = Decided(candidate, True, "rule", "normative_cue", (cue_rule(candidate),))
                continue
            reason = decision.reason if decision.reason != "rule" else "other"
            check.decided[candidate.id] = Decided(candidate, False, reason, "model")
            continue
        if plain_list(candidate):
            check.notes["rule_overruled_plain_list"] += 1
            check.decided[candidate.id] = Decided(candidate, False, "description", "plain_list")
            continue
        rules = decision.rules
        if not rules:
            check.notes["rule_without_rules_kept_as_candidate_text"] += 1
            rules = [cue_rule(candidate)]
        final = tuple(_final_rule(candidate, rule, check) for rule in rules)
        check.decided[candidate.id] = Decided(candidate, True, "rule", "model", final)
    check.missing.extend(c for c in candidates if c.id not in check.decided)
    return check


def decide_unanswered(candidate: Candidate) -> Decided:
    """A candidate the model never decided, even when asked again: the normative-cue rule decides it."""
    if normative_cue(candidate) is not None:
        return Decided(candidate, True, "rule", "normative_cue", (cue_rule(candidate),))
    reason: NotRuleReason = "not_decided"
    return Decided(candidate, False, reason, "no_answer")
