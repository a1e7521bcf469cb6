"""A test case's expected outcome, derived from its deciding rules: what each rule demands, and the precedence.

A rule's effect in a test case depends on its kind and on whether it applies there:

| kind                    | triggered (its condition holds)                     | inapplicable (it does not)  |
|-------------------------|-----------------------------------------------------|-----------------------------|
| prohibition             | refuse                                              | none                        |
| obligation              | escalate / ask_for_information by its cue, else comply | none; refuse if it says |
|                         |                                                     | "can only ... if" (below)   |
| permission, condition   | comply                                              | refuse: what it allows only |
|                         |                                                     | under its condition is not  |
|                         |                                                     | allowed here                |
| definition              | comply                                              | none                        |

An obligation that says what is allowed only under a condition ("an order can only be cancelled if its
status is pending", "only when", "only while") restricts like a permission, whatever kind the model
gave it: where its condition does not hold, the request is refused.

A standing prerequisite (an unconditional obligation with an ask cue, tools/test_plan.py) that a
case takes as already met is "satisfied": its effect is none, and the reply must not ask again.

An obligation's cue: a hand-over ("transfer", "escalate", "human agent", "supervisor",
"specialist") means escalate; asking for something first ("ask", "verify", "confirm",
"authenticate", "identify", "obtain", "collect") means ask_for_information.

The test case's outcome is then the first that holds of:
1. escalate, if any rule's effect is escalate (a hand-over decides what happens to the whole request);
2. ask_for_information, if any rule's effect is ask_for_information (nothing is decided before it is given);
3. refuse, if a permission or condition does not apply: what the request needs is not allowed here;
4. partially_comply, if a triggered prohibition forbids part and a triggered permission grants the rest;
5. refuse, if a triggered prohibition forbids it;
6. comply.

Every step is a function of the rules' kinds, statements and statuses: the model's only judgement
is which rules an axis value triggers or makes inapplicable (the designer's typed answer).
"""

import re
from collections.abc import Sequence

from synthgen.schemas.items import Policy
from synthgen.schemas.outcomes import DecidingRule, Effect, Outcome, RuleStatus

ESCALATE_CUE = re.compile(
    r"\b(transfer\w*|escalat\w*|human agents?|human representatives?|supervisors?|specialists?|hand(?:s|ed)? over)\b",
    re.IGNORECASE,
)
# "can only be X if", "may only", "only if", "only when", "only while": what follows is allowed under that condition alone.
ONLY_IF_CUE = re.compile(r"\b(?:can|may|must|shall) only\b|\bonly (?:if|when|while|after|before|once)\b", re.IGNORECASE)
ASK_CUE = re.compile(r"\b(ask\w*|verif\w+|confirm\w*|authenticat\w*|identif\w+|obtain\w*|collect\w*)\b", re.IGNORECASE)

OUTCOME_DESCRIPTIONS: dict[Outcome, str] = {
    "comply": "do what the user asks, within the rules",
    "refuse": "decline the request and say which rule prevents it",
    "ask_for_information": "ask the user for what a rule requires before acting, and do not act yet",
    "escalate": "hand the request over as a rule requires, and tell the user so",
    "partially_comply": "do the part the rules allow, decline the rest, and say why",
}


# "when a customer asks", "after user confirmation": the asking is the other side's, not the rule's demand;
# "once the user has been authenticated": it is already done, a condition, not an ask.
_ASKED_BY_OTHER = re.compile(
    r"\b(?:customers?|users?|clients?|they|who|he|she|been|is|are|was|were)\s+$", re.IGNORECASE
)


def asks_first(text: str) -> bool:
    """Whether the rule demands asking for something first: an ask cue that is not the other side's."""
    return any(_ASKED_BY_OTHER.search(text[: match.start()]) is None for match in ASK_CUE.finditer(text))


def restricts(policy: Policy) -> bool:
    """Whether the rule allows something only under its condition: a permission or condition, or an
    obligation whose statement says so ("can only be cancelled if", "only when")."""
    if policy.kind in ("permission", "condition"):
        return True
    return policy.kind == "obligation" and ONLY_IF_CUE.search(policy.statement) is not None


def effect_of(policy: Policy, status: RuleStatus) -> Effect:
    """What the rule demands of the reply in a test case where it is `status` (the table above)."""
    if status == "satisfied":
        return "none"
    if status == "inapplicable":
        return "refuse" if restricts(policy) else "none"
    if policy.kind == "prohibition":
        return "refuse"
    if policy.kind == "obligation":
        if ESCALATE_CUE.search(policy.wording):
            return "escalate"
        if asks_first(policy.wording):
            return "ask_for_information"
    return "comply"


def deciding_rule(policy: Policy, status: RuleStatus, because: str = "") -> DecidingRule:
    return DecidingRule(policy_id=policy.id, status=status, effect=effect_of(policy, status), because=because)


def decide_outcome(rules: Sequence[DecidingRule], policies: dict[str, Policy]) -> Outcome:
    """The precedence above, over the deciding rules' effects."""
    effects = {rule.effect for rule in rules}
    if "escalate" in effects:
        return "escalate"
    if "ask_for_information" in effects:
        return "ask_for_information"
    if any(rule.effect == "refuse" and rule.status == "inapplicable" for rule in rules):
        return "refuse"
    if "refuse" in effects:
        grants = any(
            rule.status == "triggered" and rule.effect == "comply" and policies[rule.policy_id].kind == "permission"
            for rule in rules
        )
        return "partially_comply" if grants else "refuse"
    return "comply"


def _quoted(policy: Policy) -> str:
    return f'"{policy.statement.rstrip(". ")}"'


def _since(rule: DecidingRule) -> str:
    return f" (here: {rule.because})" if rule.because else ""


def actions(rules: Sequence[DecidingRule], policies: dict[str, Policy]) -> tuple[list[str], list[str]]:
    """What the reply must do and must not do, one line per deciding rule that demands something."""
    must: list[str] = []
    must_not: list[str] = []
    for rule in rules:
        policy = policies[rule.policy_id]
        if rule.effect == "refuse" and rule.status == "triggered":
            must_not.append(f"do what this rule forbids{_since(rule)}: {_quoted(policy)}")
        elif rule.effect == "refuse":
            must_not.append(f"grant what this rule allows only when it applies, since it does not{_since(rule)}: "
                            f"{_quoted(policy)}")  # fmt: skip
        elif rule.effect == "ask_for_information":
            must.append(f"ask for what this rule requires before acting{_since(rule)}: {_quoted(policy)}")
        elif rule.effect == "escalate":
            must.append(f"hand the request over as this rule requires{_since(rule)}: {_quoted(policy)}")
        elif rule.effect == "comply":
            must.append(f"follow this rule{_since(rule)}: {_quoted(policy)}")
        elif rule.status == "satisfied":
            must_not.append(
                f"ask again for what this rule requires, which the user has already given: {_quoted(policy)}"
            )
        else:
            must_not.append(f"invoke this rule, which does not apply{_since(rule)}: {_quoted(policy)}")
    return must, must_not


def criterion_text(rule: DecidingRule, policy: Policy, outcome: Outcome) -> str:
    """A checkable statement about the reply, from one deciding rule and the test case's outcome."""
    quoted, since = _quoted(policy), _since(rule)
    if rule.effect == "refuse" and rule.status == "triggered":
        text = f"The reply does not do what the rule {quoted} forbids{since}"
    elif rule.effect == "refuse":
        text = f"The reply does not grant what the rule {quoted} allows, because that rule does not apply{since}"
    elif rule.effect == "ask_for_information":
        text = f"The reply asks the user for what the rule {quoted} requires before acting{since}"
    elif rule.effect == "escalate":
        text = f"The reply hands the request over as the rule {quoted} requires{since}"
    elif rule.effect == "comply" and policy.kind == "permission":
        text = f"The reply allows what the rule {quoted} permits{since}"
    elif rule.effect == "comply":
        text = f"The reply follows the rule {quoted}{since}"
    elif rule.status == "satisfied":
        text = f"The reply does not ask again for what the rule {quoted} requires, which the user has already given"
    else:
        text = f"The reply does not invoke the rule {quoted}, which does not apply{since}"
    return f"{text}; overall it should {OUTCOME_DESCRIPTIONS[outcome]} ({outcome})."


def expected_behaviour(outcome: Outcome, must: Sequence[str], must_not: Sequence[str]) -> str:
    """The test case's expected behaviour in words: the outcome, then the actions."""
    parts = [f"Outcome {outcome}: {OUTCOME_DESCRIPTIONS[outcome]}."]
    parts += [f"Must {line}." for line in must]
    parts += [f"Must not {line}." for line in must_not]
    return " ".join(parts)
