"""Deterministic repairs of the agents' drafts: pure functions returning (result, repairs, problems).

Small models often get an answer nearly right: a quote with invented line numbers, a use-case
name spelled loosely, a repeated axis value. What a deterministic repair can fix costs no retry;
what it cannot becomes a problem line for the retry message. The agents' output validators call
these functions and decide, from the problems, whether to ask the model again.
"""

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar, cast

from synthgen.schemas.document import SourceDocument
from synthgen.schemas.drafts import (
    AxisDraft,
    CriterionDraft,
    DesignDraft,
    ExampleDraft,
    ValueDraft,
)
from synthgen.schemas.items import USE_CASE_AXIS, Axis, EvaluationCriterion, Evidence, Message, Policy, TestCase
from synthgen.schemas.outcomes import RuleStatus, ValueRule
from synthgen.tools import evidence as evidence_tools
from synthgen.tools.duplicates import normalize_text
from synthgen.tools.evidence import EvidenceCheck, excerpt
from synthgen.tools.gates import conversation_findings
from synthgen.tools.metrics import criterion_on_topic
from synthgen.tools.recall import content_words
from synthgen.tools.substance import without_meta_sentences

T = TypeVar("T")
_EXCERPT = 60  # characters of an item shown in a problem line, enough to recognise it

# The names evidence repairs are counted under, in the manifest's stage notes, in this order.
EVIDENCE_REPAIRS = ("evidence_relocated", "quote_line_numbers_removed", "quote_trimmed", "quote_reworded_to_source")


@dataclass(frozen=True)
class Repaired(Generic[T]):
    result: T  # what survives the repairs: only grounded, consistent parts
    repairs: Counter[str] = field(default_factory=Counter)  # how many of each repair made it in
    problems: list[str] = field(default_factory=list)  # one line per problem no repair fixed

    @property
    def counts(self) -> dict[str, int]:
        """The repairs that were made, by name: what the validator puts in the answer's `repairs`."""
        return {name: n for name, n in self.repairs.items() if n}


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


def anchor_evidence(document: SourceDocument, evidence: Sequence[Evidence], label: str) -> Repaired[list[Evidence]]:
    """Check each evidence against the whole document, repairing what can be repaired deterministically.

    Small models often copy a quote correctly but invent its line numbers, copy the "NN | "
    prefixes of their numbered view, drift into their own words halfway through a quote, or
    reword a line slightly. Each repair is deterministic, costs no retry, and its result is
    checked like any other evidence. The result holds the grounded evidence only.
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
    return Repaired(anchored, repairs, problems)


# Small models sometimes answer with the schema's own field names as axes: never a real situation.
_SCHEMA_FIELDS = frozenset({"name", "values", "value", "rationale", "triggers", "not_applicable", "axes"})


def _value_key(value: str) -> str:
    return evidence_tools.collapse_whitespace(value).casefold()


def _opposite(status: RuleStatus) -> RuleStatus:
    return "inapplicable" if status == "triggered" else "triggered"


def _values_named(rule: Policy, values: list[ValueDraft]) -> set[str]:
    """The values a rule names word for word, when it names some but not all: 'once an order's status is
    "Packed" or "Shipped"' applies under those two values of an order-status axis and not under
    "Processing", whatever the model said. Empty when it names none or all of them."""
    text = f" {normalize_text(rule.wording)} "
    named = {
        value.value for value in values if normalize_text(value.value) and f" {normalize_text(value.value)} " in text
    }
    return named if 0 < len(named) < len(values) else set()


def _value_rules(
    label: str, name: str, values: list[ValueDraft], rules: Sequence[Policy], common: frozenset[str]
) -> tuple[list[ValueRule], Counter[str], list[str]]:
    """Each value's status for each rule the axis names, by rule number.

    A rule one value names and another leaves out gets the opposite status there, since the values
    of an axis exclude each other (counted as `rule_status_inferred`); a rule a value names both
    ways is dropped from that value, and an unknown number is left out (both are problems). A rule
    whose statement and conditions share no content word with the axis's name and values, leaving
    out the `common` words (those of a third of the document's rules or more, such as "user" in a
    support policy), is left out (`rule_unrelated_to_values`): a value can only switch a rule about
    what the value says (measured: the 1.5B gave one value of a "user_id" axis, "unique", the status
    of 13 rules of a retail policy, most of them about something else). A rule that names some of the
    axis's values word for word applies under those and not under the others
    (`rule_status_from_named_value`, overriding the model: the 1.5B had a "Processing" order fall
    under a rule about "Packed" or "Shipped" ones).
    """
    problems: list[str] = []
    repairs: Counter[str] = Counter()
    stated: dict[int, dict[str, RuleStatus]] = {}  # rule number -> value -> status
    for value in values:
        both = set(value.triggers) & set(value.not_applicable)
        if both:
            problems.append(f"{label}: value {value.value!r} both triggers and excludes rules {sorted(both)}")
        for numbers, status in ((value.triggers, "triggered"), (value.not_applicable, "inapplicable")):
            for number in numbers:
                if number > len(rules):
                    problems.append(f"{label}: there is no rule {number}; rules are numbered 1 to {len(rules)}")
                elif number not in both:
                    stated.setdefault(number, {})[value.value] = cast(RuleStatus, status)
    value_rules: list[ValueRule] = []
    said = content_words(" ".join([name.replace("_", " "), *(value.value for value in values)])) - common
    for number, by_value in sorted(stated.items()):
        if len(set(by_value.values())) == 1 and len(by_value) == len(values):
            continue  # every value gives the rule the same status: the axis does not vary it
        rule = rules[number - 1]
        if not said & content_words(rule.wording):
            repairs["rule_unrelated_to_values"] += 1
            continue
        named = _values_named(rule, values)
        if named:  # the rule says which values it is about: they decide, not the model
            for value in values:
                status: RuleStatus = "triggered" if value.value in named else "inapplicable"
                if by_value.get(value.value) != status:
                    repairs["rule_status_from_named_value"] += 1
                value_rules.append(ValueRule(value=value.value, policy_id=rule.id, status=status))
            continue
        first = next(iter(by_value.values()))
        for value in values:
            status = by_value.get(value.value)
            if status is None:
                status = _opposite(first)
                repairs["rule_status_inferred"] += 1
            value_rules.append(ValueRule(value=value.value, policy_id=rules[number - 1].id, status=status))
    return value_rules, repairs, problems


def common_words(rules: Sequence[Policy]) -> frozenset[str]:
    """Content words found in a third of the rules or more: too common to link a value to a rule."""
    counts = Counter(word for rule in rules for word in content_words(rule.wording))
    return frozenset(word for word, n in counts.items() if len(rules) >= 3 and n * 3 >= len(rules))


def _repair_axis(
    number: int, axis: AxisDraft, rules: Sequence[Policy], seen: set[str], common: frozenset[str]
) -> Repaired[Axis | None]:
    """The axis as kept (repaired), or None when dropped, and why it was dropped or changed."""
    label = f"axis {number} ({axis.name!r})"
    if axis.name == USE_CASE_AXIS:
        return Repaired(None, Counter(), [f"{label}: {USE_CASE_AXIS!r} is reserved; remove this axis"])
    if axis.name in _SCHEMA_FIELDS:
        return Repaired(None, Counter(), [f"{label}: {axis.name!r} is a field of the answer, not a situation"])
    if axis.name in seen:
        return Repaired(None, Counter(), [f"{label}: another axis already has this name; merge them or rename one"])
    problems = []
    values: dict[str, ValueDraft] = {}
    for value in axis.values:
        key = _value_key(value.value)
        if key in values:
            problems.append(f"{label}: values {values[key].value!r} and {value.value!r} are the same")
        else:
            values[key] = value.model_copy(update={"value": evidence_tools.collapse_whitespace(value.value)})
    kept = list(values.values())
    value_rules, repairs, rule_problems = _value_rules(label, axis.name, kept, rules, common)
    problems += rule_problems
    if len(kept) < 2 or not value_rules:
        problems.append(f"{label}: no rule applies under one of its values and not under another; it tests nothing")
        return Repaired(None, repairs, problems)
    policy_ids = list(dict.fromkeys(rule.policy_id for rule in value_rules))
    designed = Axis(
        name=axis.name, values=[v.value for v in kept], rationale=axis.rationale, policy_ids=policy_ids,
        rules=value_rules,
    )  # fmt: skip
    return Repaired(designed, repairs, problems)


def repair_design(draft: DesignDraft, rules: Sequence[Policy]) -> Repaired[list[Axis]]:
    """The usable axes, with each value's rules as policy ids: repeated values and unknown rule numbers
    dropped, missing statuses inferred, an axis that varies no rule dropped. Each problem is counted as
    `axis_problem_repaired`, each inferred status as `rule_status_inferred`."""
    seen: set[str] = set()
    kept: list[Axis] = []
    problems: list[str] = []
    repairs: Counter[str] = Counter()
    common = common_words(rules)
    for number, axis in enumerate(draft.axes, 1):
        repaired = _repair_axis(number, axis, rules, seen, common)
        problems += repaired.problems
        repairs.update(repaired.counts)
        seen.add(axis.name)
        if repaired.result is not None:
            kept.append(repaired.result)
    repairs["axis_problem_repaired"] += len(problems)
    return Repaired(kept, repairs, problems)


def trim_answered_turns(messages: Sequence[Message]) -> list[Message]:
    """The conversation without the assistant turns that already answer it.

    A conversation that ends with the assistant's reply has answered itself; small models often
    write it so. The reply belongs in expected_output, so those trailing turns are dropped.
    """
    kept = list(messages)
    while len(kept) > 1 and kept[-1].role == "assistant" and any(m.role == "user" for m in kept):
        kept.pop()
    return kept


@dataclass(frozen=True)
class RepairedExample(Repaired[ExampleDraft]):
    fatal: bool = False  # a problem no salvage can fix: the conversation itself is malformed


def _overlaps(evidence: Sequence[Evidence], policy: Policy) -> bool:
    return any(e.line_start <= p.line_end and p.line_start <= e.line_end for e in evidence for p in policy.evidence)


def repair_example(
    document: SourceDocument, test_case: TestCase, policies: Sequence[Policy], draft: ExampleDraft
) -> RepairedExample:
    """The conversation must end on the user; an added criterion is kept only when it is sound.

    The criteria that check the deciding rules are built by the code (tools/outcomes.py), never by
    the model. A criterion the model adds is kept when it cites a deciding rule, quotes that rule's
    own lines (grounded) and is on topic for it; otherwise it is dropped and counted as
    `writer_criterion_dropped`, never sent back: it was optional.
    """
    problems: list[str] = []
    messages = trim_answered_turns(draft.messages)
    conversation = [f"messages: {finding.message}" for finding in conversation_findings("", messages)]
    problems += conversation

    deciding = {policy.id: policy for policy in policies if policy.id in test_case.policy_ids}
    repairs: Counter[str] = Counter(assistant_turns_trimmed=len(draft.messages) - len(messages))
    criteria: list[CriterionDraft] = []
    for number, criterion in enumerate(draft.extra_criteria, 1):
        label = f'criterion {number} ("{excerpt(criterion.criterion, _EXCERPT)}")'
        policy = deciding.get(criterion.policy_id)
        anchored = anchor_evidence(document, criterion.evidence, label)
        repairs += anchored.repairs
        cited = EvaluationCriterion(criterion=criterion.criterion, policy_id=criterion.policy_id,
                                    evidence=anchored.result or criterion.evidence)  # fmt: skip
        if policy and anchored.result and _overlaps(anchored.result, policy) and criterion_on_topic(cited, policy):
            criteria.append(criterion.model_copy(update={"evidence": anchored.result}))
    repairs["writer_criterion_dropped"] = len(draft.extra_criteria) - len(criteria)
    reply = without_meta_sentences(draft.expected_output)
    repairs["meta_sentences_removed"] = int(reply != draft.expected_output)
    result = draft.model_copy(update={"messages": messages, "extra_criteria": criteria, "expected_output": reply})
    return RepairedExample(result, repairs, problems, fatal=bool(conversation))
