"""The expected outcome of a test case, from its deciding rules (tools/outcomes.py), and the cases planned
from axes (tools/test_plan.py): contrast pairs, rules no axis reaches, and what a budget keeps."""

from agent_scripts import DOCUMENT, GIFT_CARDS, RECEIPT, REFUND, WINDOW_30

from synthgen.orchestrator.run.stages.design import build_test_cases
from synthgen.schemas.items import (
    Axis,
    DatasetExample,
    EvaluationCriterion,
    Evidence,
    ExampleMetadata,
    Message,
    Policy,
    TestCase,
)
from synthgen.schemas.outcomes import ValueRule
from synthgen.schemas.stages import Design, Extraction
from synthgen.tools.coverage import document_coverage, rule_coverage
from synthgen.tools.outcomes import actions, criterion_text, decide_outcome, deciding_rule, effect_of
from synthgen.tools.test_plan import home_use_case, plan_use_case, select_cases

POLICIES = {p.id: p for p in (WINDOW_30, RECEIPT, GIFT_CARDS)}


def rule(statement: str, kind: str, **fields: object) -> Policy:
    evidence = [Evidence(line_start=3, line_end=3, quote="refund")]
    return Policy(id="pol_dddddddddd", document_id=DOCUMENT.id, statement=statement, kind=kind, strength="must",
                  applies_to=[REFUND.id], evidence=evidence, **fields)  # type: ignore[arg-type]  # fmt: skip


def test_effects_follow_the_documented_table() -> None:
    assert effect_of(GIFT_CARDS, "triggered") == "refuse"
    assert effect_of(GIFT_CARDS, "inapplicable") == "none"
    assert effect_of(WINDOW_30, "triggered") == "comply"
    assert effect_of(WINDOW_30, "inapplicable") == "refuse"  # what it allows only within 30 days is not allowed
    assert effect_of(rule("Transfer the user to a human agent for refunds over $500.", "obligation"), "triggered") == (
        "escalate"
    )
    assert effect_of(rule("You must authenticate the user before any change.", "obligation"), "triggered") == (
        "ask_for_information"
    )
    assert effect_of(rule("You must authenticate the user before any change.", "obligation"), "inapplicable") == "none"
    assert effect_of(rule("Be polite.", "obligation"), "triggered") == "comply"


def test_an_ask_that_is_the_customers_is_no_ask_first() -> None:
    recommend = rule("The assistant may recommend products when a customer asks for suggestions.", "obligation")
    assert effect_of(recommend, "triggered") == "comply"
    once = rule("Once the user has been authenticated, you can share order details.", "obligation")
    assert effect_of(once, "triggered") == "comply"
    verify = rule("The assistant must verify identity when a customer asks for order details.", "obligation")
    assert effect_of(verify, "triggered") == "ask_for_information"


def test_an_only_if_obligation_restricts_like_a_permission() -> None:
    only = rule("An order can only be cancelled if its status is pending.", "obligation")
    assert (effect_of(only, "triggered"), effect_of(only, "inapplicable")) == ("comply", "refuse")
    plain = rule("Staff must log every cancellation.", "obligation")
    assert effect_of(plain, "inapplicable") == "none"
    one_user = rule("You can only help one user per conversation.", "prohibition")
    assert effect_of(one_user, "inapplicable") == "none"


def test_outcome_precedence() -> None:
    inside = deciding_rule(WINDOW_30, "triggered", "10 days after purchase")
    outside = deciding_rule(WINDOW_30, "inapplicable", "31 days after purchase")
    receipt = deciding_rule(RECEIPT, "triggered", "has the receipt")
    gift = deciding_rule(GIFT_CARDS, "triggered", "paid with a gift card")
    escalate = deciding_rule(rule("Transfer disputes to a supervisor.", "obligation"), "triggered")
    policies = {**POLICIES, escalate.policy_id: rule("Transfer disputes to a supervisor.", "obligation")}
    assert decide_outcome([inside, receipt], policies) == "comply"
    assert decide_outcome([outside, receipt], policies) == "refuse"
    assert decide_outcome([inside, gift], policies) == "partially_comply"  # a permission grants, a prohibition refuses
    assert decide_outcome([outside, gift, escalate], policies) == "escalate"


def test_actions_and_criteria_say_what_each_rule_demands() -> None:
    outside = deciding_rule(WINDOW_30, "inapplicable", "31 days after purchase")
    gift = deciding_rule(GIFT_CARDS, "triggered", "paid with a gift card")
    must, must_not = actions([outside, gift], POLICIES)
    assert must == []
    assert must_not == [
        (
            "grant what this rule allows only when it applies, since it does not (here: 31 days after purchase): "
            '"A refund may be requested within 30 days of purchase"'
        ),
        'do what this rule forbids (here: paid with a gift card): "Gift cards are never refunded"',
    ]
    assert criterion_text(outside, WINDOW_30, "refuse") == (
        'The reply does not grant what the rule "A refund may be requested within 30 days of purchase" allows, '
        "because that rule does not apply (here: 31 days after purchase); overall it should decline the request "
        "and say which rule prevents it (refuse)."
    )


WINDOW_AXIS = Axis(
    name="days_since_purchase",
    values=["10 days after purchase", "31 days after purchase"],
    rationale="the 30-day window",
    policy_ids=[WINDOW_30.id],
    rules=[
        ValueRule(value="10 days after purchase", policy_id=WINDOW_30.id, status="triggered"),
        ValueRule(value="31 days after purchase", policy_id=WINDOW_30.id, status="inapplicable"),
    ],
)
RECEIPT_AXIS = Axis(
    name="receipt",
    values=["has the receipt", "lost the receipt"],
    rationale="the receipt condition",
    policy_ids=[RECEIPT.id],
    rules=[
        ValueRule(value="has the receipt", policy_id=RECEIPT.id, status="triggered"),
        ValueRule(value="lost the receipt", policy_id=RECEIPT.id, status="inapplicable"),
    ],
)


def test_a_use_case_gets_rows_with_outcomes_contrast_pairs_and_a_case_per_unreached_rule() -> None:
    policies = {**POLICIES, GIFT_CARDS.id: GIFT_CARDS.model_copy(update={"applies_to": [REFUND.id]})}
    cases, pairs = plan_use_case(REFUND, [WINDOW_AXIS, RECEIPT_AXIS], policies, strength=2, seed=1)
    by_values = {dict(c.axis_values).get("days_since_purchase", "") + "|" + dict(c.axis_values).get("receipt", ""): c
                 for c in cases}  # fmt: skip
    assert by_values["10 days after purchase|has the receipt"].outcome == "comply"
    assert by_values["31 days after purchase|has the receipt"].outcome == "refuse"
    assert by_values["10 days after purchase|lost the receipt"].outcome == "refuse"
    alone = by_values["|"]  # the gift-card rule has no axis: a case of its own, where it applies
    assert alone.rule_ids == [GIFT_CARDS.id] and alone.outcome == "refuse"
    keys = {c.key: c for c in cases}
    assert {p.policy_id for p in pairs} == {WINDOW_30.id, RECEIPT.id}
    for pair in pairs:
        first, second = keys[pair.first], keys[pair.second]
        differing = {a for (a, v), (_, w) in zip(first.axis_values, second.axis_values) if v != w}
        assert differing == {pair.axis} and first.outcome != second.outcome


def test_a_standing_prerequisite_is_met_in_every_other_case_and_tested_alone() -> None:
    verify = rule("The assistant must verify the customer's identity before acting on an order.", "obligation")
    policies = {**POLICIES, verify.id: verify}
    cases, _ = plan_use_case(REFUND, [WINDOW_AXIS, RECEIPT_AXIS], policies, strength=2, seed=1)
    alone = next(c for c in cases if not c.axis_values)
    assert [(r.policy_id, r.status) for r in alone.deciding] == [(verify.id, "triggered")]
    assert alone.outcome == "ask_for_information"  # the prerequisite's own case: the reply asks first
    for case in (c for c in cases if c.axis_values):
        met = [r for r in case.deciding if r.policy_id == verify.id]
        assert [(r.status, r.effect) for r in met] == [("satisfied", "none")]
        assert verify.id in case.rule_ids and verify.id not in case.tested_ids
    allowed = next(c for c in cases if dict(c.axis_values) == {"days_since_purchase": "10 days after purchase",
                                                                 "receipt": "has the receipt"})  # fmt: skip
    assert allowed.outcome == "comply"  # decided by the other rules, the user having verified already
    assert allowed.must_not == (
        f'ask again for what this rule requires, which the user has already given: "{verify.statement.rstrip(".")}"',
    )
    satisfied = next(r for r in allowed.deciding if r.status == "satisfied")
    assert criterion_text(satisfied, verify, "comply").startswith("The reply does not ask again for what the rule")
    # a conditional ask, or one an axis reaches, is not a standing prerequisite
    asks_if = verify.model_copy(update={"conditions": ["the order is over $500"]})
    cases, _ = plan_use_case(REFUND, [WINDOW_AXIS], {**POLICIES, verify.id: asks_if}, strength=2, seed=1)
    assert all(r.status != "satisfied" for c in cases for r in c.deciding)


def test_a_rule_governing_several_use_cases_is_tested_alone_once_where_its_words_belong() -> None:
    other = REFUND.model_copy(update={"id": "uc_9999999999", "name": "Exchange an item", "goal": "swap a size"})
    everywhere = GIFT_CARDS.model_copy(update={"applies_to": [REFUND.id, other.id], "applies_to_all": True})
    swaps = everywhere.model_copy(
        update={"id": "pol_eeeeeeeeee", "statement": "Gift cards cannot be swapped for another size."}
    )
    policies = {everywhere.id: everywhere, swaps.id: swaps}
    homes = {p.id: home_use_case(p, [REFUND, other]) for p in policies.values()}
    assert homes == {everywhere.id: REFUND.id, swaps.id: other.id}  # "refunded", "size"
    first, _ = plan_use_case(REFUND, [], policies, strength=2, seed=1, homes=homes)
    second, _ = plan_use_case(other, [], policies, strength=2, seed=1, homes=homes)
    assert [c.rule_ids for c in first] == [[everywhere.id]]
    assert [c.rule_ids for c in second] == [[swaps.id]]


def test_a_budget_keeps_the_cases_that_cover_the_most_rules_first() -> None:
    gift = GIFT_CARDS.model_copy(update={"applies_to": [REFUND.id]})
    extraction = Extraction(document=DOCUMENT, use_cases=[REFUND], policies=[WINDOW_30, RECEIPT, gift], decisions=[])
    test_cases, pairs = build_test_cases(extraction, [WINDOW_AXIS, RECEIPT_AXIS], strength=2, seed=1)
    chosen = select_cases(test_cases, pairs, strength=2, limit=2)
    assert {pid for tc in chosen for pid in tc.policy_ids} == {WINDOW_30.id, RECEIPT.id, gift.id}
    everything = select_cases(test_cases, pairs, strength=2, limit=None)
    assert sorted(tc.id for tc in everything) == sorted(tc.id for tc in test_cases)


def test_coverage_counts_what_was_written_and_says_why_a_rule_is_uncovered() -> None:
    gift = GIFT_CARDS.model_copy(update={"applies_to": [REFUND.id]})
    extraction = Extraction(document=DOCUMENT, use_cases=[REFUND], policies=[WINDOW_30, RECEIPT, gift], decisions=[])
    test_cases, pairs = build_test_cases(extraction, [WINDOW_AXIS, RECEIPT_AXIS], strength=2, seed=1)
    design = Design(document_id=DOCUMENT.id, strength=2, axes=[WINDOW_AXIS, RECEIPT_AXIS], test_cases=test_cases,
                    contrast_pairs=pairs, designed=True)  # fmt: skip
    window_pair = next(p for p in pairs if p.policy_id == WINDOW_30.id)
    chosen = [tc for tc in test_cases if tc.id in window_pair.test_case_ids] + [
        tc for tc in test_cases if tc.policy_ids == [gift.id]
    ]
    written = [example_for(tc) for tc in chosen if tc.policy_ids != [gift.id]]  # the gift card's was rejected

    report = document_coverage(design, written, rules=3)
    assert (report.examples_written, report.rules_covered, report.contrast_pairs_written) == (2, 2, 1)
    assert report.interactions_covered <= report.interactions_total
    by_rule = {r.policy_id: r for r in rule_coverage([WINDOW_30, RECEIPT, gift], [design], chosen, written)}
    assert by_rule[WINDOW_30.id].contrast_pair and sorted(by_rule[WINDOW_30.id].outcomes) == ["comply", "refuse"]
    assert by_rule[gift.id].uncovered == "rejected"
    unchosen = rule_coverage([WINDOW_30, RECEIPT, gift], [design], chosen[:1], written[:1])
    assert {r.policy_id: r.uncovered for r in unchosen}[gift.id] == "budget"


def example_for(test_case: TestCase) -> DatasetExample:
    return DatasetExample(
        id="ex_" + test_case.id.removeprefix("tc_"),
        test_case_id=test_case.id,
        messages=[Message(role="user", content="A refund, please.")],
        expected_output="A reply.",
        evaluation_criteria=[
            EvaluationCriterion(criterion="c", policy_id=test_case.policy_ids[0], evidence=WINDOW_30.evidence)
        ],
        metadata=ExampleMetadata(
            document_id=DOCUMENT.id,
            use_case_id=REFUND.id,
            policy_ids=test_case.policy_ids,
            axis_values=test_case.axis_values,
            expected_outcome=test_case.expected_outcome,
            revisions=0,
        ),
    )
