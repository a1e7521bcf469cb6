"""What a test case expects: an outcome from a small vocabulary, and the rules that decide it.

The vocabulary (documented in the README, "How a test case gets its expected outcome"):

- comply: the assistant does what the user asks, as the rules allow;
- refuse: a rule forbids what the user asks, or a rule that would allow it does not apply;
- ask_for_information: a rule requires something the user has not given yet (an identity check,
  an order number, a confirmation), so the assistant asks for it before acting;
- escalate: a rule hands the request over (to a human agent, another team);
- partially_comply: a rule allows part of the request and another forbids the rest.
"""

from collections.abc import Sequence
from typing import Literal

from pydantic import Field

from synthgen.schemas.base import StrictModel

Outcome = Literal["comply", "refuse", "ask_for_information", "escalate", "partially_comply"]
OUTCOMES: tuple[Outcome, ...] = ("comply", "refuse", "ask_for_information", "escalate", "partially_comply")

# Whether a rule's condition holds in a test case: it applies (triggered), or the situation is
# one where the rule does not apply (inapplicable). A rule without conditions is always triggered,
# except a standing prerequisite (an unconditional rule to ask for something before acting, such as
# authenticating the user) in a case that tests other rules: there the user has already given what
# it asks for (satisfied), so the reply must not ask again (tools/test_plan.py).
RuleStatus = Literal["triggered", "inapplicable", "satisfied"]
# How a status reads in the prompts and the report.
STATUS_WORDS: dict[RuleStatus, str] = {
    "triggered": "applies here",
    "inapplicable": "does not apply here",
    "satisfied": "applies, and the user has already given what it asks for earlier in the conversation",
}
# What a rule demands of the reply in a test case, as one of the outcomes, or nothing.
Effect = Literal["comply", "refuse", "ask_for_information", "escalate", "none"]


class ValueRule(StrictModel):
    """One axis value's effect on one rule: the designer's typed judgement, checked by the gates."""

    value: str
    policy_id: str
    status: RuleStatus


def tested_rule_ids(rules: Sequence["DecidingRule"]) -> list[str]:
    """The deciding rules a case tests: not the standing prerequisites it takes as already met."""
    return [rule.policy_id for rule in rules if rule.status != "satisfied"]


class DecidingRule(StrictModel):
    """A rule that decides a test case, whether it applies there, and what that demands of the reply."""

    policy_id: str
    status: RuleStatus
    effect: Effect
    because: str = Field(
        default="", description="The axis value that sets the status; empty for an unconditional rule."
    )


class ContrastPair(StrictModel):
    """Two test cases that differ in one axis value only, where a rule applies in one and not the other
    and the expected outcomes differ: the pair shows whether a reply tracks the rule's condition."""

    policy_id: str
    axis: str
    test_case_ids: list[str] = Field(min_length=2, max_length=2)
