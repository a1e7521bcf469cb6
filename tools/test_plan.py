"""Test cases from axes and rules: which rules decide each case, its outcome, its contrast partners, and
which cases a budget keeps.

Per use case, the axes whose values make a rule of that use case apply or not are combined by a
covering array; each row's deciding rules are the rules its values set, and its outcome follows
from them (tools/outcomes.py). A rule of the use case that no axis reaches gets a test case of
its own, where it applies. For each conditional rule an axis reaches, a contrast pair is looked
for: two cases that differ in that axis's value only, where the rule's status and the outcome
differ; when the array holds none, the partner case is added.

A standing prerequisite of a use case (an unconditional obligation to ask for something before
acting, such as authenticating the user or getting an explicit confirmation, that no axis
reaches) is tested by its own case, where it applies and the reply must ask. Every other case of
the use case takes it as already met ("satisfied"): the user has given what it asks for, the
reply must not ask again, and the outcome is the one the case's other rules decide. Without
this, a case where a return is allowed would expect the reply to process it for a user who never
said who they are, which the document forbids.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

from synthgen.schemas.items import Axis, Policy, TestCase, UseCase
from synthgen.schemas.outcomes import ContrastPair, DecidingRule, Outcome, tested_rule_ids
from synthgen.tools.combinatorics import covering_array
from synthgen.tools.outcomes import actions, decide_outcome, deciding_rule, effect_of
from synthgen.tools.recall import content_words


@dataclass(frozen=True)
class PlannedCase:
    """A test case before it has an ID: its key (hashed into the ID) says what makes it distinct."""

    use_case_id: str
    axis_values: tuple[tuple[str, str], ...]  # (axis, value), in axis order
    deciding: tuple[DecidingRule, ...]
    outcome: Outcome
    must: tuple[str, ...]
    must_not: tuple[str, ...]

    @property
    def key(self) -> str:
        values = [f"{axis}={value}" for axis, value in sorted(self.axis_values)]
        rules = [f"{r.policy_id}:{r.status}" for r in self.deciding]
        return "|".join([self.use_case_id, *values, *rules])

    @property
    def rule_ids(self) -> list[str]:
        return [rule.policy_id for rule in self.deciding]

    @property
    def tested_ids(self) -> list[str]:
        """The rules the case tests: not the prerequisites it takes as met."""
        return tested_rule_ids(self.deciding)


@dataclass(frozen=True)
class PlannedPair:
    """Two planned cases (by key) that differ in one axis value, with different outcomes, for a rule."""

    policy_id: str
    axis: str
    first: str
    second: str


def governs(policy: Policy, use_case: UseCase) -> bool:
    return policy.applies_to_all or use_case.id in policy.applies_to


def home_use_case(policy: Policy, use_cases: Sequence[UseCase]) -> str | None:
    """Where a rule governing several use cases is tested alone: the one whose name and goal share the
    most content words with the rule (the first on a tie), so a preamble's "help users return delivered
    orders" is tested under returning a delivered order, not under whichever use case comes first."""
    governed = [uc for uc in use_cases if governs(policy, uc)]
    if not governed:
        return None
    said = content_words(policy.wording)
    return max(governed, key=lambda uc: len(said & content_words(f"{uc.name} {uc.goal}"))).id


def standing_prerequisites(use_case: UseCase, axes: Sequence[Axis], policies: dict[str, Policy]) -> list[Policy]:
    """The use case's unconditional obligations that ask for something before acting, no axis reaching them."""
    reached = {r.policy_id for axis in axes for r in axis.rules}
    return [
        policy
        for policy in policies.values()
        if governs(policy, use_case)
        and policy.kind == "obligation"
        and policy.strength == "must"
        and not policy.conditions
        and policy.id not in reached
        and effect_of(policy, "triggered") == "ask_for_information"
    ]


def plan_case(
    use_case: UseCase,
    values: Sequence[tuple[str, str]],
    axes: Sequence[Axis],
    policies: dict[str, Policy],
    standing: Sequence[Policy] = (),
) -> PlannedCase | None:
    """The case of one combination of values: its deciding rules (those of its use case the values
    set), outcome and actions; None when the values set no rule of the use case."""
    chosen = dict(values)
    deciding: dict[str, DecidingRule] = {}
    for axis in axes:
        for rule in axis.rules:
            policy = policies.get(rule.policy_id)
            if policy is None or rule.value != chosen.get(axis.name) or not governs(policy, use_case):
                continue
            # Two values that disagree on one rule: the first axis decides (axes come in the designer's order).
            deciding.setdefault(policy.id, deciding_rule(policy, rule.status, because=rule.value))
    if not deciding:
        return None
    return _case(use_case, tuple(values), list(deciding.values()), policies, standing)


def _case(
    use_case: UseCase,
    values: tuple[tuple[str, str], ...],
    deciding: list[DecidingRule],
    policies: dict[str, Policy],
    standing: Sequence[Policy] = (),
) -> PlannedCase:
    tested = {rule.policy_id for rule in deciding}
    deciding = deciding + [deciding_rule(p, "satisfied") for p in standing if p.id not in tested]
    outcome = decide_outcome(deciding, policies)
    must, must_not = actions(deciding, policies)
    return PlannedCase(use_case.id, values, tuple(deciding), outcome, tuple(must), tuple(must_not))


def _axes_of(use_case: UseCase, axes: Sequence[Axis], policies: dict[str, Policy]) -> list[Axis]:
    return [
        a for a in axes if any(governs(policies[r.policy_id], use_case) for r in a.rules if r.policy_id in policies)
    ]


def plan_use_case(
    use_case: UseCase,
    axes: Sequence[Axis],
    policies: dict[str, Policy],
    strength: int,
    seed: int,
    homes: Mapping[str, str | None] | None = None,
) -> tuple[list[PlannedCase], list[PlannedPair]]:
    """The use case's cases (covering-array rows, then one case per rule no axis reaches) and contrast pairs."""
    relevant = _axes_of(use_case, axes, policies)
    standing = standing_prerequisites(use_case, relevant, policies)
    cases: dict[str, PlannedCase] = {}
    if relevant:
        rows = covering_array([a.values for a in relevant], strength=min(strength, len(relevant)), seed=seed)
        for row in rows:
            values = [(a.name, a.values[i]) for a, i in zip(relevant, row)]
            case = plan_case(use_case, values, relevant, policies, standing)
            if case is not None:
                cases.setdefault(case.key, case)
    pairs = _contrast_pairs(use_case, relevant, policies, cases, standing)
    reached = {pid for case in cases.values() for pid in case.tested_ids}
    for policy in policies.values():
        # A rule governing several use cases is tested alone once, in its home (home_use_case).
        home = homes.get(policy.id) if homes is not None else home_use_case(policy, [use_case])
        if policy.id not in reached and home == use_case.id:
            alone = _case(use_case, (), [deciding_rule(policy, "triggered")], policies, standing)
            cases.setdefault(alone.key, alone)
    return list(cases.values()), pairs


def _contrast_pairs(
    use_case: UseCase,
    axes: Sequence[Axis],
    policies: dict[str, Policy],
    cases: dict[str, PlannedCase],
    standing: Sequence[Policy],
) -> list[PlannedPair]:
    """One pair per conditional rule the axes reach, found among `cases` or made by adding a partner to it."""
    pairs: list[PlannedPair] = []
    for axis in axes:
        for policy_id in dict.fromkeys(r.policy_id for r in axis.rules):
            if policy_id not in policies or not governs(policies[policy_id], use_case):
                continue
            if any(pair.policy_id == policy_id for pair in pairs):
                continue
            pair = _find_pair(use_case, axis, policy_id, axes, policies, cases, standing)
            if pair is not None:
                pairs.append(pair)
    return pairs


def _find_pair(
    use_case: UseCase,
    axis: Axis,
    policy_id: str,
    axes: Sequence[Axis],
    policies: dict[str, Policy],
    cases: dict[str, PlannedCase],
    standing: Sequence[Policy],
) -> PlannedPair | None:
    status = {r.value: r.status for r in axis.rules if r.policy_id == policy_id}
    for base in list(cases.values()):
        values = dict(base.axis_values)
        here = values.get(axis.name)
        if here is None or here not in status:
            continue
        for other in axis.values:
            if status.get(other, status[here]) == status[here]:
                continue
            swapped = tuple((name, other if name == axis.name else value) for name, value in base.axis_values)
            partner = plan_case(use_case, swapped, axes, policies, standing)
            if partner is None or partner.outcome == base.outcome:
                continue
            cases.setdefault(partner.key, partner)
            return PlannedPair(policy_id, axis.name, base.key, partner.key)
    return None


def interactions(test_case: TestCase, strength: int) -> set[tuple[str, ...]]:
    """The value combinations a case shows: its use case with each `strength` of its axis values."""
    items = sorted(f"{axis}={value}" for axis, value in test_case.axis_values.items())
    size = min(strength, len(items))
    return {(test_case.use_case_id, *combo) for combo in combinations(items, size)} if items else set()


def select_cases(
    cases: Sequence[TestCase], pairs: Sequence[ContrastPair], strength: int, limit: int | None
) -> list[TestCase]:
    """Greedy order: each next case covers the most rules not yet covered, then completes the most
    contrast pairs of rules without one, then shows the most new value combinations; ties keep plan order.
    The first `limit` are kept (all without a limit)."""
    partners: dict[str, list[tuple[str, str]]] = {}
    for pair in pairs:
        first, second = pair.test_case_ids
        partners.setdefault(first, []).append((second, pair.policy_id))
        partners.setdefault(second, []).append((first, pair.policy_id))
    left = list(cases)
    chosen: list[TestCase] = []
    chosen_ids: set[str] = set()
    rules: set[str] = set()
    paired: set[str] = set()
    shown: set[tuple[str, ...]] = set()
    while left and (limit is None or len(chosen) < limit):
        best = max(left, key=lambda case: _gain(case, rules, chosen_ids, paired, shown, partners, strength))
        left.remove(best)  # max keeps the first of equals: plan order
        chosen.append(best)
        chosen_ids.add(best.id)
        rules |= set(best.tested_policy_ids)
        paired |= {pid for tc_id, pid in partners.get(best.id, []) if tc_id in chosen_ids}
        shown |= interactions(best, strength)
    return chosen


def _gain(
    case: TestCase,
    rules: set[str],
    chosen_ids: set[str],
    paired: set[str],
    shown: set[tuple[str, ...]],
    partners: dict[str, list[tuple[str, str]]],
    strength: int,
) -> tuple[int, int, int]:
    """What adding the case brings: new rules, contrast pairs it completes, new value combinations."""
    new_rules = len(set(case.tested_policy_ids) - rules)
    completes = sum(1 for tc_id, pid in partners.get(case.id, []) if tc_id in chosen_ids and pid not in paired)
    return new_rules, completes, len(interactions(case, strength) - shown)
