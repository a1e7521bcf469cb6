"""Example-writer agent with a scripted FunctionModel: conversation shape, policy ids, grounding, revisions."""

from dataclasses import replace
from typing import Any

import pytest
from agent_scripts import (
    DOCUMENT,
    GIFT_CARDS,
    RECEIPT,
    REFUND,
    TEST_CASE,
    WINDOW_30,
    Args,
    Script,
    last_part,
    retry_feedback,
)
from inline_snapshot import snapshot
from pydantic_ai import UnexpectedModelBehavior
from pydantic_ai.messages import ToolCallPart
from pydantic_ai.models.function import FunctionModel

from synthgen.agents.example_writer import ExampleWriterDeps, example_writer_agent, example_writer_prompt
from synthgen.schemas.drafts import ExampleDraft
from synthgen.schemas.items import Evidence


def criterion(policy_id: str, line: int, quote: str, text: str = "The reply declines the refund.") -> Args:
    cited = {"line_start": line, "line_end": line, "quote": quote}
    return {"criterion": text, "policy_id": policy_id, "evidence": [cited]}


GOOD_CRITERIA = [
    criterion(WINDOW_30.id, 3, "within 30 days of purchase"),
    criterion(RECEIPT.id, 4, "Refunds require the original receipt.", "The reply does not ask for the receipt again."),
]
USER_TURN = {"role": "user", "content": "I bought this jacket 31 days ago, receipt attached. Can I get a refund?"}


def example(*criteria: Args, messages: list[Args] | None = None) -> Args:
    return {
        "messages": messages or [USER_TURN],
        "expected_output": "I'm sorry, refunds are only possible within 30 days of purchase.",
        "evaluation_criteria": list(criteria) or GOOD_CRITERIA,
    }


def deps(**changes: Any) -> ExampleWriterDeps:
    base = ExampleWriterDeps(document=DOCUMENT, test_case=TEST_CASE, use_case=REFUND, policies=[WINDOW_30, RECEIPT])
    return replace(base, **changes)


def run(script: Script) -> ExampleDraft:
    writer_deps = deps()
    result = example_writer_agent.run_sync(
        example_writer_prompt(writer_deps), model=FunctionModel(script), deps=writer_deps
    )
    return result.output


def test_good_example_is_accepted_in_one_request() -> None:
    script = Script([example()])

    draft = run(script)

    assert [c.policy_id for c in draft.evaluation_criteria] == [WINDOW_30.id, RECEIPT.id]
    assert draft.repairs == {}
    assert len(script.received) == 1


def test_criterion_citing_a_policy_outside_the_test_case_is_sent_back() -> None:
    stray = criterion(GIFT_CARDS.id, 5, "Gift cards are never refundable.")
    script = Script([example(*GOOD_CRITERIA, stray), example()])

    run(script)

    assert retry_feedback(script.received[1]) == snapshot("""\
Fix these problems and answer again:
- criterion 3 ("The reply declines the refund."): policy_id 'pol_cccccccccc' is not a policy of this test case; use one of pol_aaaaaaaaaa, pol_bbbbbbbbbb\
""")


def test_invented_quote_is_sent_back_and_a_misplaced_one_relocated() -> None:
    invented = criterion(WINDOW_30.id, 3, "Refunds are possible for 60 days.")
    misplaced = criterion(RECEIPT.id, 1, "Refunds require the original receipt.")
    script = Script([example(invented, misplaced), example(GOOD_CRITERIA[0], misplaced)])

    draft = run(script)

    assert retry_feedback(script.received[1]) == snapshot("""\
Fix these problems and answer again:
- criterion 1 ("The reply declines the refund.") evidence 1: quote 'Refunds are possible for 60 days.' is not in line 3 nor anywhere in the document; closest match is line 4: 'Refunds require the original receipt.'. Copy the quote verbatim\
""")
    assert draft.evaluation_criteria[1].evidence == [
        Evidence(line_start=4, line_end=4, quote="Refunds require the original receipt.")
    ]
    assert draft.repairs == {"evidence_relocated": 1}


def test_a_trailing_assistant_reply_is_trimmed_without_a_retry() -> None:
    ends_with_assistant = [USER_TURN, {"role": "assistant", "content": "Sorry, no refund after 30 days."}]
    script = Script([example(messages=ends_with_assistant)])

    draft = run(script)

    assert len(script.received) == 1
    assert [m.role for m in draft.messages] == ["user"]
    assert draft.repairs == {"assistant_turns_trimmed": 1}


def test_conversation_must_end_with_the_user() -> None:
    only_assistant = [{"role": "assistant", "content": "How can I help?"}]
    script = Script([example(messages=only_assistant), example()])

    run(script)

    assert retry_feedback(script.received[1]) == snapshot("""\
Fix these problems and answer again:
- messages: the last message has role 'assistant'; the conversation must end with a 'user' turn (the assistant's reply belongs in expected_output)\
""")


def test_every_policy_of_the_test_case_needs_a_criterion() -> None:
    script = Script([example(GOOD_CRITERIA[0]), example()])

    run(script)

    assert retry_feedback(script.received[1]) == snapshot("""\
Fix these problems and answer again:
- evaluation_criteria: no criterion checks pol_bbbbbbbbbb ("A refund requires the original receipt."); add one\
""")


def test_lookup_lines_tool() -> None:
    script = Script([ToolCallPart("lookup_lines", {"start": 4, "end": 5}), example()])

    run(script)

    part = last_part(script.received[1])
    assert part.outcome == "success"
    assert part.content == "4 | Refunds require the original receipt.\n5 | Gift cards are never refundable."


def test_first_prompt_shows_test_case_use_case_and_cited_lines() -> None:
    assert example_writer_prompt(deps()) == snapshot("""\
<test_case>
Scenario: A customer with the receipt asks for a refund 31 days after purchase.
Axis values:
- days_since_purchase: 31 days after purchase
- receipt: has the receipt
Expected behaviour: Decline the refund: the 30-day window has passed.
</test_case>

<use_case>
Name: Request a refund
Actor: customer
Goal: get their money back
Description: A customer asks for a refund.
</use_case>

<policies>
pol_aaaaaaaaaa (permission, when: within 30 days of purchase): A refund may be requested within 30 days of purchase.
Source lines:
3 | A customer may request a refund within 30 days of purchase.

pol_bbbbbbbbbb (condition, when: always): A refund requires the original receipt.
Source lines:
4 | Refunds require the original receipt.
</policies>

Line numbers are the file's. Criteria may cite only these policy ids: pol_aaaaaaaaaa, pol_bbbbbbbbbb.

Write the example.\
""")


def test_revision_prompt_carries_the_instruction_and_the_previous_draft() -> None:
    previous = ExampleDraft.model_validate(example())
    instruction = "expected_output must mention that store credit is not offered either."

    prompt = example_writer_prompt(deps(previous=previous, revision_instruction=instruction))

    assert f"<revision_instruction>\n{instruction}\n</revision_instruction>" in prompt
    assert f"<previous_draft>\n{previous.model_dump_json(indent=2)}\n</previous_draft>" in prompt
    assert "Write the example." not in prompt


def test_the_last_attempt_keeps_the_grounded_criteria() -> None:
    stray = criterion(GIFT_CARDS.id, 5, "Gift cards are never refundable.")
    invented = criterion(RECEIPT.id, 4, "Receipts are optional.")
    stubborn = example(GOOD_CRITERIA[0], stray, invented)
    script = Script([stubborn, stubborn, stubborn])

    draft = run(script)

    assert len(script.received) == 3  # two retries first
    assert [c.policy_id for c in draft.evaluation_criteria] == [WINDOW_30.id]
    assert draft.repairs == {"ungrounded_criteria_dropped": 2}


def test_the_last_attempt_still_refuses_a_conversation_that_ends_with_the_assistant() -> None:
    broken = example(messages=[{"role": "assistant", "content": "Hello!"}])
    script = Script([broken, broken, broken])

    with pytest.raises(UnexpectedModelBehavior):
        run(script)
