"""Deterministic repairs of the agents' drafts: pure functions returning (result, repairs, problems).

Small models often get an answer nearly right: a quote with invented line numbers, a use-case
name spelled loosely, a repeated axis value. What a deterministic repair can fix costs no retry;
what it cannot becomes a problem line for the retry message. The agents' output validators call
these functions and decide, from the problems, whether to ask the model again.
"""

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from synthgen.schemas.document import SourceDocument
from synthgen.schemas.drafts import (
    AxisDraft,
    CriterionDraft,
    DesignDraft,
    ExampleDraft,
)
from synthgen.schemas.items import USE_CASE_AXIS, Evidence, Message, Policy, TestCase
from synthgen.tools import evidence as evidence_tools
from synthgen.tools.evidence import EvidenceCheck, excerpt
from synthgen.tools.gates import conversation_findings

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
_SCHEMA_FIELDS = frozenset({"name", "values", "rationale", "policy_ids", "axes"})


def _value_key(value: str) -> str:
    return evidence_tools.collapse_whitespace(value).casefold()


def _repair_axis(
    number: int, axis: AxisDraft, known: set[str], valid_ids: list[str], seen: set[str]
) -> tuple[AxisDraft | None, list[str]]:
    """The axis as kept (repaired), or None when dropped, and why it was dropped or changed."""
    label = f"axis {number} ({axis.name!r})"
    if axis.name == USE_CASE_AXIS:
        return None, [
            f"{label}: {USE_CASE_AXIS!r} is reserved (use cases are added as an axis automatically); remove this axis"
        ]
    if axis.name in _SCHEMA_FIELDS:
        return None, [f"{label}: {axis.name!r} is a field of the answer, not a property of the user's situation"]
    if axis.name in seen:
        return None, [f"{label}: another axis already has this name; merge them or rename one"]
    problems = []
    unknown = [policy_id for policy_id in axis.policy_ids if policy_id not in known]
    if unknown:
        problems.append(f"{label}: unknown policy ids {', '.join(unknown)}; valid ids are {', '.join(valid_ids)}")
    policy_ids = list(dict.fromkeys(p for p in axis.policy_ids if p in known))
    values: dict[str, str] = {}
    for value in axis.values:
        key = _value_key(value)
        if not key:
            problems.append(f"{label}: a value is empty; every value must describe a situation")
        elif key in values:
            problems.append(f"{label}: values {values[key]!r} and {value!r} are the same; make the values distinct")
        else:
            values[key] = value
    if len(values) < 2 or not policy_ids:
        return None, problems
    return axis.model_copy(update={"values": list(values.values()), "policy_ids": policy_ids}), problems


def repair_design(draft: DesignDraft, policies: Sequence[Policy]) -> Repaired[list[AxisDraft]]:
    """The usable axes: repeated values and unknown policy ids dropped, an axis left with fewer than
    two values or no policy dropped. Each problem repaired is counted as `axis_problem_repaired`."""
    valid_ids = [policy.id for policy in policies]
    known = set(valid_ids)
    seen: set[str] = set()
    kept: list[AxisDraft] = []
    problems: list[str] = []
    for number, axis in enumerate(draft.axes, 1):
        axis_kept, axis_problems = _repair_axis(number, axis, known, valid_ids, seen)
        problems += axis_problems
        seen.add(axis.name)
        if axis_kept is not None:
            kept.append(axis_kept)
    return Repaired(kept, Counter(axis_problem_repaired=len(problems)), problems)


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


def repair_example(
    document: SourceDocument, test_case: TestCase, policies: Sequence[Policy], draft: ExampleDraft
) -> RepairedExample:
    """The conversation must end on the user; criteria must cite the test case's policies, grounded.

    The result keeps the criteria that cite a policy of the test case with grounded evidence;
    every policy of the test case without a criterion is a problem.
    """
    problems: list[str] = []
    messages = trim_answered_turns(draft.messages)
    conversation = [f"messages: {finding.message}" for finding in conversation_findings("", messages)]
    problems += conversation

    allowed = test_case.policy_ids
    repairs: Counter[str] = Counter(assistant_turns_trimmed=len(draft.messages) - len(messages))
    criteria: list[CriterionDraft] = []
    for number, criterion in enumerate(draft.evaluation_criteria, 1):
        label = f'criterion {number} ("{excerpt(criterion.criterion, _EXCERPT)}")'
        anchored = anchor_evidence(document, criterion.evidence, label)
        problems += anchored.problems
        repairs += anchored.repairs
        if criterion.policy_id not in allowed:
            problems.append(
                f"{label}: policy_id {criterion.policy_id!r} is not a policy of this test case; "
                f"use one of {', '.join(allowed)}"
            )
        elif anchored.result:
            criteria.append(criterion.model_copy(update={"evidence": anchored.result}))

    # Every policy the test case exercises needs a criterion, or the grader cannot tell whether
    # the reply applied it. The message names each missing policy so a small model can add it.
    statements = {policy.id: policy.statement for policy in policies}
    cited = {criterion.policy_id for criterion in draft.evaluation_criteria}
    for policy_id in allowed:
        if policy_id not in cited:
            statement = statements.get(policy_id)
            about = f' ("{excerpt(statement, _EXCERPT)}")' if statement else ""
            problems.append(f"evaluation_criteria: no criterion checks {policy_id}{about}; add one")

    repairs["ungrounded_criteria_dropped"] = len(draft.evaluation_criteria) - len(criteria)
    result = draft.model_copy(update={"messages": messages, "evaluation_criteria": criteria})
    return RepairedExample(result, repairs, problems, fatal=bool(conversation))
