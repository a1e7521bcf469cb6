"""Example-writer agent with a scripted FunctionModel: conversation shape, added criteria, substance gates, revisions."""

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

from synthgen.agents.example_writer import INSTRUCTIONS, ExampleWriterDeps, example_writer_agent, example_writer_prompt
from synthgen.errors import AnswerRejected
from synthgen.schemas.drafts import ExampleDraft


def criterion(policy_id: str, line: int, quote: str, text: str = "The reply names the 30 day refund window.") -> Args:
    cited = {"line_start": line, "line_end": line, "quote": quote}
    return {"criterion": text, "policy_id": policy_id, "evidence": [cited]}


USER_TURN = {
    "role": "user",
    "content": "I bought this jacket 31 days after purchase day... I have the receipt. Refund?",
}
REFUSAL = "Unfortunately I can't refund the jacket: refunds are only possible within 30 days of purchase."


def example(*criteria: Args, messages: list[Args] | None = None, reply: str = REFUSAL) -> Args:
    return {"messages": messages or [USER_TURN], "expected_output": reply, "extra_criteria": list(criteria)}


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
    assert draft.expected_output == REFUSAL and draft.extra_criteria == []
    assert draft.repairs == {}
    assert len(script.received) == 1


def test_an_added_criterion_is_kept_only_when_it_cites_a_deciding_rule_its_lines_and_its_topic() -> None:
    sound = criterion(WINDOW_30.id, 1, "within 30 days of purchase")  # misplaced: relocated to line 3, kept
    stray = criterion(GIFT_CARDS.id, 5, "Gift cards are never refundable.")  # not a deciding rule
    invented = criterion(WINDOW_30.id, 3, "Refunds are possible for 60 days.")  # quote found nowhere
    elsewhere = criterion(WINDOW_30.id, 4, "Refunds require the original receipt.")  # another rule's lines
    off_topic = criterion(WINDOW_30.id, 3, "within 30 days of purchase", "The tone is friendly.")
    script = Script([example(sound, stray, invented)])
    draft = run(script)
    assert len(script.received) == 1  # optional criteria are dropped, never sent back
    assert [(c.policy_id, c.evidence[0].line_start) for c in draft.extra_criteria] == [(WINDOW_30.id, 3)]
    assert draft.repairs == {"evidence_relocated": 1, "writer_criterion_dropped": 2}
    assert run(Script([example(elsewhere, off_topic)])).repairs == {"writer_criterion_dropped": 2}


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


def test_a_reply_that_contradicts_the_outcome_is_sent_back_once_naming_it() -> None:
    grants = "Sure, I have processed your refund for the jacket; it arrives in 5 days."
    script = Script([example(reply=grants), example()])
    draft = run(script)
    assert draft.expected_output == REFUSAL
    assert retry_feedback(script.received[1]) == snapshot("""\
Fix these problems and answer again:
- The expected outcome is refuse, but the reply never says what the assistant cannot do; state the refusal plainly.
- The expected outcome is refuse, but the reply grants the request ("i have processed"); decline it instead.\
""")


def test_a_value_of_the_situation_missing_from_the_conversation_is_sent_back() -> None:
    vague = [{"role": "user", "content": "Hi, can I return my jacket for money back?"}]
    script = Script([example(messages=vague), example()])
    run(script)
    assert retry_feedback(script.received[1]) == snapshot("""\
Fix these problems and answer again:
- The conversation does not show the days_since_purchase "31 days after purchase" (missing: 31, days, after, purchase); make the user's messages state it.
- The conversation does not show the receipt "has the receipt" (missing: receipt); make the user's messages state it.\
""")


def test_an_answer_that_still_copies_the_instructions_is_rejected_with_its_reason_code() -> None:
    copied = " ".join(INSTRUCTIONS.split("\n\n")[1].split()[:12])  # twelve words of the prompt's own text
    stubborn = example(reply=f"Unfortunately I can't: {copied}")
    script = Script([stubborn, stubborn])
    with pytest.raises(AnswerRejected) as rejected:
        run(script)
    assert rejected.value.reason_code == "copied_from_prompt"
    assert len(script.received) == 2  # sent back once, then rejected


def test_lookup_lines_tool() -> None:
    script = Script([ToolCallPart("lookup_lines", {"start": 4, "end": 5}), example()])
    run(script)
    part = last_part(script.received[1])
    assert part.outcome == "success"
    assert part.content == "4 | Refunds require the original receipt.\n5 | Gift cards are never refundable."


def test_first_prompt_shows_the_decided_test_case_and_each_rules_lines() -> None:
    assert example_writer_prompt(deps()) == snapshot("""\
<use_case>
Name: Request a refund
Who: customer
Goal: get their money back
</use_case>

<test_case>
The user's situation:
- 31 days after purchase
- has the receipt
Expected outcome: refuse (decline the request and say which rule prevents it)
The reply must:
- follow this rule (here: has the receipt): "A refund requires the original receipt"
The reply must not:
- grant what this rule allows only when it applies, since it does not (here: 31 days after purchase): "A refund may be requested within 30 days of purchase"
</test_case>

<deciding_rules>
pol_aaaaaaaaaa [permission; does not apply here, since: 31 days after purchase]: A refund may be requested within 30 days of purchase.
Source lines:
3 | A customer may request a refund within 30 days of purchase.

pol_bbbbbbbbbb [condition; applies here, since: has the receipt]: A refund requires the original receipt.
Source lines:
4 | Refunds require the original receipt.
</deciding_rules>

Write the example.\
""")


def test_revision_prompt_carries_the_instruction_and_the_previous_draft() -> None:
    previous = ExampleDraft.model_validate(example())
    instruction = "expected_output must mention that store credit is not offered either."
    prompt = example_writer_prompt(deps(previous=previous, revision_instruction=instruction))
    assert f"<revision_instruction>\n{instruction}\n</revision_instruction>" in prompt
    assert f"<previous_draft>\n{previous.model_dump_json(indent=2)}\n</previous_draft>" in prompt
    assert "Write the example." not in prompt


def test_the_last_attempt_still_refuses_a_conversation_that_ends_with_the_assistant() -> None:
    broken = example(messages=[{"role": "assistant", "content": "Hello!"}])
    script = Script([broken, broken, broken])
    with pytest.raises(UnexpectedModelBehavior):
        run(script)


def test_a_pasted_sentence_about_the_assistant_is_cut_from_the_reply_without_a_retry() -> None:
    pasted = REFUSAL + " The assistant MUST NOT grant refunds after 30 days."
    script = Script([example(reply=pasted)])
    draft = run(script)
    assert len(script.received) == 1
    assert draft.expected_output == REFUSAL
    assert draft.repairs == {"meta_sentences_removed": 1}
