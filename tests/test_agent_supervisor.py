"""Supervisor agent with a scripted FunctionModel: one well-formed verdict per example."""

from agent_scripts import DOCUMENT, REFUND, WINDOW_30, Args, Script, retry_feedback
from inline_snapshot import snapshot
from pydantic_ai.models.function import FunctionModel

from synthgen.agents.supervisor import SupervisorDeps, supervisor_agent, supervisor_prompt
from synthgen.schemas.drafts import SupervisorReview
from synthgen.schemas.gates import GateFinding, GateReport
from synthgen.schemas.items import DatasetExample, EvaluationCriterion, ExampleMetadata, Message, TestCase
from synthgen.schemas.outcomes import DecidingRule

TEST_CASE = TestCase(
    id="tc_0123456789",
    document_id=DOCUMENT.id,
    use_case_id=REFUND.id,
    policy_ids=[WINDOW_30.id],
    axis_values={"days_since_purchase": "31 days after purchase"},
    scenario="A customer asks for a refund 31 days after purchase.",
    deciding_rules=[
        DecidingRule(policy_id=WINDOW_30.id, status="inapplicable", effect="refuse", because="31 days after purchase")
    ],
    expected_outcome="refuse",
    must_not=[
        (
            "grant what this rule allows only when it applies, since it does not (here: 31 days after purchase): "
            '"A refund may be requested within 30 days of purchase"'
        )
    ],
    expected_behaviour="Outcome refuse: decline the request and say which rule prevents it.",
)


def make_example(example_id: str, reply: str) -> DatasetExample:
    return DatasetExample(
        id=example_id,
        test_case_id=TEST_CASE.id,
        messages=[Message(role="user", content="I bought this 31 days ago. Refund please?")],
        expected_output=reply,
        evaluation_criteria=[
            EvaluationCriterion(
                criterion="The reply declines the refund.",
                policy_id=WINDOW_30.id,
                evidence=WINDOW_30.evidence,
            )
        ],
        metadata=ExampleMetadata(
            document_id=DOCUMENT.id,
            use_case_id=TEST_CASE.use_case_id,
            policy_ids=TEST_CASE.policy_ids,
            axis_values=TEST_CASE.axis_values,
            expected_outcome="refuse",
            revisions=0,
        ),
    )


DECLINE = make_example("ex_aaaaaaaaaa", "Sorry, refunds are only possible within 30 days of purchase.")
ACCEPT = make_example("ex_bbbbbbbbbb", "Sure, your refund is on its way.")
REPORT = GateReport(
    checked=[DECLINE.id, ACCEPT.id],
    findings=[
        GateFinding(
            item_id=ACCEPT.id,
            gate="evidence",
            reason_code="quote_not_found",
            message="criterion 1 evidence 1: quote not in line 3",
        )
    ],
)
DEPS = SupervisorDeps(examples=[DECLINE, ACCEPT], test_cases=[TEST_CASE], policies=[WINDOW_30], gate_report=REPORT,
                      documents={DOCUMENT.id: DOCUMENT})  # fmt: skip
CHECKS = ["outcome", "criteria", "conversation", "axis_values"]


def verdict(item_id: str, decision: str, instruction: str = "", reason_code: str = "", fails: str = "") -> Args:
    checks = [{"check": c, "ok": c != fails, "why": f"{c} read against the rule"} for c in CHECKS]
    return {"item_id": item_id, "checks": checks, "decision": decision, "instruction": instruction,
            "reason_code": reason_code}  # fmt: skip


GOOD = {
    "verdicts": [
        verdict(DECLINE.id, "accept"),
        verdict(ACCEPT.id, "reject", reason_code="wrong_expected_output"),
    ]
}


def run(script: Script) -> SupervisorReview:
    return supervisor_agent.run_sync(supervisor_prompt(DEPS), model=FunctionModel(script), deps=DEPS).output


def test_prompt_presents_examples_and_gate_findings() -> None:
    assert supervisor_prompt(DEPS) == snapshot("""\
<example id="ex_aaaaaaaaaa">
Situation:
- 31 days after purchase
Expected outcome: refuse
The reply must:
- (nothing beyond the outcome)
The reply must not:
- grant what this rule allows only when it applies, since it does not (here: 31 days after purchase): "A refund may be requested within 30 days of purchase"
Deciding rules:
- pol_aaaaaaaaaa (permission, does not apply here): A refund may be requested within 30 days of purchase.
3 | A customer may request a refund within 30 days of purchase.
Conversation:
[user] I bought this 31 days ago. Refund please?
Expected output:
Sorry, refunds are only possible within 30 days of purchase.
Evaluation criteria:
- (pol_aaaaaaaaaa) The reply declines the refund.
</example>

<example id="ex_bbbbbbbbbb">
Situation:
- 31 days after purchase
Expected outcome: refuse
The reply must:
- (nothing beyond the outcome)
The reply must not:
- grant what this rule allows only when it applies, since it does not (here: 31 days after purchase): "A refund may be requested within 30 days of purchase"
Deciding rules:
- pol_aaaaaaaaaa (permission, does not apply here): A refund may be requested within 30 days of purchase.
3 | A customer may request a refund within 30 days of purchase.
Conversation:
[user] I bought this 31 days ago. Refund please?
Expected output:
Sure, your refund is on its way.
Evaluation criteria:
- (pol_aaaaaaaaaa) The reply declines the refund.
</example>

<gate_findings>
- ex_bbbbbbbbbb [evidence/quote_not_found] criterion 1 evidence 1: quote not in line 3
</gate_findings>

Give exactly one verdict for each of these ids: ex_aaaaaaaaaa, ex_bbbbbbbbbb.\
""")


def test_one_verdict_per_example_is_accepted() -> None:
    script = Script([GOOD])

    review = run(script)

    assert [(v.item_id, v.decision) for v in review.verdicts] == [(DECLINE.id, "accept"), (ACCEPT.id, "reject")]
    assert len(script.received) == 1


def test_missing_unknown_and_repeated_ids_are_sent_back() -> None:
    wrong = {
        "verdicts": [
            verdict(DECLINE.id, "accept"),
            verdict(DECLINE.id, "accept"),
            verdict("ex_cccccccccc", "accept"),
        ]
    }
    script = Script([wrong, GOOD])

    run(script)

    assert retry_feedback(script.received[1]) == snapshot("""\
Fix these problems and answer again:
- verdicts for unknown ids ex_cccccccccc; review only ex_aaaaaaaaaa, ex_bbbbbbbbbb
- no verdict for ex_bbbbbbbbbb; give one for each
- more than one verdict for ex_aaaaaaaaaa; give exactly one per id\
""")


def test_revise_needs_an_instruction_and_reject_a_reason_code() -> None:
    wrong = {"verdicts": [verdict(DECLINE.id, "revise", instruction="  "), verdict(ACCEPT.id, "reject")]}
    script = Script([wrong, GOOD])

    run(script)

    assert retry_feedback(script.received[1]) == snapshot("""\
Fix these problems and answer again:
- ex_aaaaaaaaaa: 'revise' needs an instruction saying what the writer must change
- ex_bbbbbbbbbb: 'reject' needs a snake_case reason_code, e.g. off_policy\
""")


def test_each_verdict_gives_the_four_checks_in_order() -> None:
    unchecked = {"verdicts": [{**verdict(DECLINE.id, "accept"), "checks": []}, GOOD["verdicts"][1]]}
    script = Script([unchecked, GOOD])
    run(script)
    assert retry_feedback(script.received[1]) == snapshot("""\
Fix these problems and answer again:
- ex_aaaaaaaaaa: give the checks outcome, criteria, conversation, axis_values, once each, in that order\
""")


def test_an_accept_whose_own_check_failed_becomes_a_revise_with_that_reason() -> None:
    review = run(Script([{"verdicts": [verdict(DECLINE.id, "accept", fails="axis_values"), GOOD["verdicts"][1]]}]))
    assert (review.verdicts[0].decision, review.verdicts[0].instruction) == (
        "revise",
        "axis_values: axis_values read against the rule",
    )
