"""Extraction recall: how many of a document's rules, listed by hand in a gold list, a run's policies capture.

A gold list (format of ../shared/gold/, see its README) is a JSON list of rules, each
`{"id", "rule", "line_start", "line_end", "kind", "strength"}` with 1-based inclusive lines.

The figures, all deterministic:
- loose recall: share of gold rules whose lines some policy's evidence overlaps;
- strict recall: share of gold rules that some policy both overlaps and *states*;
- precision: share of the run's policies (on that document) that state some gold rule they overlap;
- the same recall figures per rule kind.

"States" is a content-word test: the words of a text are its letters-and-digits tokens,
casefolded, without the stop words below, each cut to a crude stem (a trailing "ing", "ed", "es"
or "s" dropped when three letters remain). A policy states a rule when its statement and
conditions hold at least STATES_RULE_SHARE (half) of the rule's content words. Half tells the
rule a policy paraphrases from its neighbour on the same line ("authenticate the user by email"
vs "authenticate even when the user gives their id"), without demanding the gold wording.

A gold list belongs to a document when at least GOLD_FIT_SHARE (half) of its rules share at least
GOLD_RULE_GROUNDED_SHARE (30 %) of their content words with the lines they cite. Measured on
the three shared gold lists: against their own document 91-100 % of rules pass; against any other
corpus document at most 1 rule does. A list naming lines the document does not have is refused
before that.
"""

import re
from functools import cache
from typing import Literal

from pydantic import Field, TypeAdapter, ValidationError, model_validator

from synthgen.errors import InputError
from synthgen.schemas.base import StrictModel
from synthgen.schemas.document import SourceDocument
from synthgen.schemas.items import Policy, PolicyKind

STATES_RULE_SHARE = 0.5
GOLD_RULE_GROUNDED_SHARE = 0.3
GOLD_FIT_SHARE = 0.5
KINDS: tuple[PolicyKind, ...] = ("obligation", "prohibition", "permission", "condition", "definition")

STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "nor",
        "but",
        "of",
        "to",
        "in",
        "on",
        "for",
        "by",
        "with",
        "at",
        "from",
        "as",
        "into",
        "about",
        "is",
        "are",
        "be",
        "been",
        "being",
        "was",
        "were",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "any",
        "all",
        "not",
        "no",
        "can",
        "may",
        "must",
        "should",
        "will",
        "shall",
        "would",
        "could",
        "has",
        "have",
        "had",
        "do",
        "does",
        "did",
        "if",
        "then",
        "than",
        "when",
        "which",
        "who",
        "whom",
        "whose",
        "what",
        "where",
        "your",
        "you",
        "we",
        "our",
        "us",
        "they",
        "their",
        "them",
        "he",
        "she",
        "his",
        "her",
        "i",
        "so",
        "such",
        "there",
        "also",
        "only",
    ]
)
_WORD = re.compile(r"[^\W_]+")
_SUFFIXES = ("ing", "ed", "es", "s")


@cache
def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> frozenset[str]:
    """The stemmed content words of `text` (see the module docstring)."""
    return frozenset(_stem(word) for word in _WORD.findall(text.casefold()) if word not in STOP_WORDS)


def shared_share(rule_words: frozenset[str], text: str) -> float:
    """Share of `rule_words` that `text` holds (1.0 for a rule without content words)."""
    return len(rule_words & content_words(text)) / len(rule_words) if rule_words else 1.0


class GoldRule(StrictModel):
    id: str = Field(min_length=1)
    rule: str = Field(min_length=1)
    line_start: int = Field(ge=1)
    line_end: int = Field(ge=1)
    kind: PolicyKind
    strength: Literal["must", "should", "may"]

    @model_validator(mode="after")
    def _ordered(self) -> "GoldRule":
        if self.line_end < self.line_start:
            raise ValueError(f"line_end {self.line_end} is before line_start {self.line_start}")
        return self


_GOLD_LIST = TypeAdapter(list[GoldRule])
_EXPECTED = 'a JSON list of {"id", "rule", "line_start", "line_end", "kind", "strength"} as in ../shared/gold'


def parse_gold(label: str, data: bytes) -> list[GoldRule]:
    """The rules of a gold file, or InputError saying in one line what is wrong with it."""
    try:
        rules = _GOLD_LIST.validate_json(data)
    except ValidationError as err:
        first = err.errors()[0]
        loc = list(first["loc"])
        where = [f"rule {loc.pop(0) + 1}"] if loc and isinstance(loc[0], int) else []  # 1-based, as a reader counts
        where += [str(part) for part in loc]
        detail = f"{' '.join(where)}: {first['msg']}" if where else first["msg"]
        raise InputError(f"{label} is not a gold list ({detail}): give {_EXPECTED}") from None
    if not rules:
        raise InputError(f"{label} lists no rules: give {_EXPECTED}")
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise InputError(f"{label} lists rule id {rule.id!r} twice: give each rule its own id")
        seen.add(rule.id)
    return rules


def gold_misfit(doc: SourceDocument, rules: list[GoldRule], label: str) -> str | None:
    """Why the gold list cannot be the one written for this document, or None when it fits."""
    outside = [rule for rule in rules if rule.line_end > doc.line_count]
    if outside:
        rule = outside[0]
        return (
            f"{label} cites lines {rule.line_start}-{rule.line_end} (rule {rule.id}) but {doc.file_name} has "
            f"{doc.line_count} lines: give the gold list written for {doc.file_name}"
        )
    grounded = sum(
        shared_share(content_words(rule.rule), "\n".join(doc.lines[rule.line_start - 1 : rule.line_end]))
        >= GOLD_RULE_GROUNDED_SHARE
        for rule in rules
    )
    if grounded < GOLD_FIT_SHARE * len(rules):
        return (
            f"{label} does not describe {doc.file_name}: only {grounded} of its {len(rules)} rules share words "
            f"with the lines they cite: give the gold list written for {doc.file_name} (or for its current text)"
        )
    return None


class RuleFound(StrictModel):
    id: str
    kind: PolicyKind
    line_start: int
    line_end: int
    rule: str
    overlapping: list[str] = Field(description="Policies whose evidence overlaps the rule's lines (loose).")
    stating: list[str] = Field(description="Of those, the policies that state the rule (strict).")


class KindRecall(StrictModel):
    kind: PolicyKind
    rules: int
    loose: int
    strict: int


class RecallReport(StrictModel):
    document: str
    gold: str
    rules: int
    policies: int
    loose_found: int
    strict_found: int
    policies_stating_a_rule: int
    loose_recall: float
    strict_recall: float
    precision: float = Field(description="0.0 when the run has no policy on the document.")
    by_kind: list[KindRecall]
    found: list[RuleFound]


def _overlaps(policy: Policy, rule: GoldRule) -> bool:
    return any(e.line_start <= rule.line_end and rule.line_start <= e.line_end for e in policy.evidence)


def states_rule(policy: Policy, rule: GoldRule) -> bool:
    """The content-word test of the module docstring, on the policy's statement and conditions."""
    said = policy.wording
    return shared_share(content_words(rule.rule), said) >= STATES_RULE_SHARE


def measure_recall(doc: SourceDocument, rules: list[GoldRule], policies: list[Policy], gold_label: str) -> RecallReport:
    """Recall and precision of the policies extracted from `doc` against its gold list."""
    mine = [policy for policy in policies if policy.document_id == doc.id]
    found: list[RuleFound] = []
    stating_any: set[str] = set()
    for rule in rules:
        overlapping = [policy for policy in mine if _overlaps(policy, rule)]
        stating = [policy.id for policy in overlapping if states_rule(policy, rule)]
        stating_any.update(stating)
        found.append(
            RuleFound(
                id=rule.id,
                kind=rule.kind,
                line_start=rule.line_start,
                line_end=rule.line_end,
                rule=rule.rule,
                overlapping=[policy.id for policy in overlapping],
                stating=stating,
            )
        )
    loose = sum(bool(f.overlapping) for f in found)
    strict = sum(bool(f.stating) for f in found)
    by_kind = [
        KindRecall(
            kind=kind,
            rules=sum(f.kind == kind for f in found),
            loose=sum(f.kind == kind and bool(f.overlapping) for f in found),
            strict=sum(f.kind == kind and bool(f.stating) for f in found),
        )
        for kind in KINDS
    ]
    return RecallReport(
        document=doc.path,
        gold=gold_label,
        rules=len(rules),
        policies=len(mine),
        loose_found=loose,
        strict_found=strict,
        policies_stating_a_rule=len(stating_any),
        loose_recall=loose / len(rules),
        strict_recall=strict / len(rules),
        precision=len(stating_any) / len(mine) if mine else 0.0,
        by_kind=by_kind,
        found=found,
    )
