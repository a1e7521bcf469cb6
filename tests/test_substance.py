import pytest
from inline_snapshot import snapshot

from synthgen.schemas.items import Message
from synthgen.schemas.outcomes import Outcome
from synthgen.tools.substance import (
    LabelledInput,
    SubstanceProblem,
    axis_value_missing,
    conflicting_labels,
    conversation_off_topic,
    copied_from_prompt,
    echoed_output,
    example_substance,
    input_key,
    meta_reply,
    outcome_findings,
    recited_rule,
    same_output_different_outcome,
    template_in_conversation,
    without_meta_sentences,
)

INSTRUCTIONS = """You write one evaluation example for a customer support assistant.
Write the reply that a careful support assistant would give to the customer, following every rule.
Never mention the axis names or the scenario in the conversation."""

SCENARIO = "A customer asks for a refund on headphones delivered 45 days ago and is frustrated."
BEHAVIOUR = "The assistant declines the refund because the 30-day window has passed and offers store credit."
CRITERIA = ["The reply declines the refund and cites the 30-day return window."]
AXES = {"days_since_delivery": "45 days after delivery", "customer_mood": "frustrated", "use_case": "Refunds"}
USER = (
    "I got these headphones 45 days ago, the delivery was late and now they crackle. "
    "This is really frustrating, I want my money back."
)
REFUSAL = (
    "I'm sorry the headphones stopped working. Unfortunately I can't refund them: refunds are only "
    "possible within 30 days of delivery, and yours arrived 45 days ago. I can offer store credit instead."
)


def user(text: str) -> Message:
    return Message(role="user", content=text)


def codes(problems: list[SubstanceProblem]) -> list[str]:
    return [problem.reason_code for problem in problems]


# copied_from_prompt


def test_seven_words_shared_with_the_instructions_pass_and_eight_fail() -> None:
    seven = "Here is the reply that a careful support assistant wrote."  # "the reply ... assistant": 7 words
    eight = "Here is the reply that a careful support assistant would send."  # "... assistant would": 8 words
    assert copied_from_prompt([seven], INSTRUCTIONS) == []
    assert codes(copied_from_prompt([eight], INSTRUCTIONS)) == ["copied_from_prompt"]


def test_a_copy_is_found_through_case_and_punctuation_and_named() -> None:
    text = "Sure. WRITE the reply, that a careful Support Assistant would give to the customer!"
    (problem,) = copied_from_prompt([text], INSTRUCTIONS)
    assert problem.message == snapshot(
        '"write the reply that a careful support assistant would give..." is copied from the instructions; '
        "write it in your own words for this case."
    )


def test_each_copying_text_gets_its_own_problem() -> None:
    texts = [
        "Following every rule, I can offer store credit.",
        "Never mention the axis names or the scenario in the conversation, please.",
        REFUSAL,
        "The reply would give to the customer following every rule.",
    ]
    first, second = copied_from_prompt(texts, INSTRUCTIONS)
    assert first.message.startswith('"never mention the axis names or the scenario in the..." is copied')
    assert second.message.startswith('"would give to the customer following every rule" is copied')


# echoed_output


def test_an_own_reply_is_no_echo() -> None:
    assert echoed_output(REFUSAL, CRITERIA, SCENARIO, BEHAVIOUR) == []


def test_a_reply_equal_to_the_scenario_after_normalising_is_an_echo() -> None:
    echo = "a customer asks for a refund on headphones, delivered 45 days ago - and is FRUSTRATED"
    (problem,) = echoed_output(echo, CRITERIA, SCENARIO, BEHAVIOUR)
    assert problem.reason_code == "echoed_output"
    assert "the scenario" in problem.message


def test_a_reply_inside_the_expected_behaviour_is_an_echo() -> None:
    (problem,) = echoed_output("The assistant declines the refund.", CRITERIA, SCENARIO, BEHAVIOUR)
    assert "the expected behaviour" in problem.message


def test_a_criterion_that_makes_up_most_of_the_reply_is_an_echo_and_a_small_part_is_not() -> None:
    mostly = CRITERIA[0] + " Sorry."
    (problem,) = echoed_output(mostly, CRITERIA, SCENARIO, BEHAVIOUR)
    assert "evaluation criterion 1" in problem.message
    padded = CRITERIA[0] + " " + REFUSAL
    assert echoed_output(padded, CRITERIA, SCENARIO, BEHAVIOUR) == []


# template_in_conversation


@pytest.mark.parametrize("label", ["customer_mood: frustrated", "Customer mood : frustrated", "Scenario: refund"])
def test_template_labels_in_a_user_message_are_found(label: str) -> None:
    (problem,) = template_in_conversation([user(f"{label}. {USER}")], AXES, SCENARIO)
    assert problem.reason_code == "template_in_conversation"
    assert "turn 1" in problem.message


def test_axis_values_heading_in_a_system_message_is_found() -> None:
    messages = [Message(role="system", content="Axis values follow."), user(USER)]
    assert codes(template_in_conversation(messages, AXES, SCENARIO)) == ["template_in_conversation"]


def test_the_scenario_pasted_into_a_user_message_is_found_unless_short() -> None:
    pasted = user(f"Hi. {SCENARIO.upper()} Please help.")
    (problem,) = template_in_conversation([pasted], AXES, SCENARIO)
    assert "the scenario word for word" in problem.message
    assert template_in_conversation([user("I want a refund now.")], AXES, "I want a refund") == []


def test_a_natural_conversation_and_assistant_turns_are_not_template() -> None:
    messages = [user(USER), Message(role="assistant", content="Scenario: noted."), user("My mood is bad.")]
    assert template_in_conversation(messages, AXES, SCENARIO) == []


# axis_value_missing


def test_values_said_in_the_users_words_are_present() -> None:
    assert axis_value_missing([user(USER)], AXES) == []


def test_a_word_value_is_matched_by_its_stem_and_missing_without_it() -> None:
    assert axis_value_missing([user("This is so frustrating.")], {"customer_mood": "frustrated"}) == []
    (problem,) = axis_value_missing([user("Hello, I would like a refund.")], {"customer_mood": "frustrated"})
    assert problem.reason_code == "axis_value_missing"
    assert '"frustrated"' in problem.message and "missing: frustrated" in problem.message


def test_every_number_of_a_value_must_appear_as_a_number() -> None:
    fee = {"restocking_fee": "a $4.50 restocking fee"}
    assert axis_value_missing([user("Why is there a restocking fee of $4.50?")], fee) == []
    (problem,) = axis_value_missing([user("Why is there a restocking fee of $14.50?")], fee)
    assert "missing: 4.50" in problem.message
    window = {"return_window": "30 days"}
    assert axis_value_missing([user("Your site says 30-day returns.")], window) == []
    assert codes(axis_value_missing([user("Your site says 60-day returns.")], window)) == ["axis_value_missing"]
    discount = {"discount": "30% off"}
    assert codes(axis_value_missing([user("I had a 20% discount code, off the total.")], discount)) == [
        "axis_value_missing"
    ]


def test_half_the_content_words_suffice_and_the_use_case_axis_is_skipped() -> None:
    channel = {"contact_channel": "live chat support"}  # chat, live, support: two of three needed
    assert axis_value_missing([user("I am on the live chat.")], channel) == []
    (problem,) = axis_value_missing([user("I am on the chat.")], {"contact_channel": "(live) chat support"})
    assert "missing: live, support)" in problem.message
    assert axis_value_missing([user(USER)], {"use_case": "Refund requests"}) == []


def test_assistant_turns_do_not_show_a_value() -> None:
    messages = [user("Hi."), Message(role="assistant", content="You sound frustrated."), user("Refund please.")]
    assert codes(axis_value_missing(messages, {"customer_mood": "frustrated"})) == ["axis_value_missing"]


# outcome_findings


def test_a_plain_refusal_passes_refuse_and_fails_comply() -> None:
    refusal = "Unfortunately I can't refund an order delivered 45 days ago."
    assert outcome_findings(refusal, "refuse") == []
    (problem,) = outcome_findings(refusal, "comply")
    assert problem.reason_code == "outcome_contradicted"
    assert '"unfortunately"' in problem.message


def test_a_granted_refund_fails_refuse() -> None:
    no_refusal, grant = outcome_findings("I've processed your refund of $89.", "refuse")
    assert "never says what the assistant cannot do" in no_refusal.message
    assert 'grants the request ("i\'ve processed")' in grant.message
    both = outcome_findings("Unfortunately it is late, but I have processed your refund anyway.", "refuse")
    assert codes(both) == ["outcome_contradicted"]
    assert "i have processed" in both[0].message


def test_a_conditional_or_negated_grant_does_not_contradict_refuse() -> None:
    assert (
        outcome_findings("I can’t refund this now. If you return it unused, I’ll process your refund.", "refuse") == []
    )
    assert outcome_findings("Unfortunately no refund has been approved for this order.", "refuse") == []


def test_a_reply_that_helps_passes_comply() -> None:
    assert (
        outcome_findings("Sure: unfortunately the label printer is down, so the label comes by email.", "comply") == []
    )
    assert codes(outcome_findings("Unfortunately not; make sure to keep the receipt.", "comply")) == [
        "outcome_contradicted"
    ]
    assert outcome_findings("Of course! I've issued a refund of $89 to your card.", "comply") == []
    assert outcome_findings("Unfortunately it was late, but I can refund it today.", "comply") == []


def test_an_ask_needs_a_question_or_a_request() -> None:
    assert (
        outcome_findings("Could I have your order number, so I can check the delivery date?", "ask_for_information")
        == []
    )
    assert outcome_findings("Please share your order number.", "ask_for_information") == []
    (problem,) = outcome_findings("Your refund is on its way.", "ask_for_information")
    assert "asks for nothing" in problem.message


def test_an_escalation_must_hand_over() -> None:
    assert outcome_findings("I'm transferring you to our billing specialist now.", "escalate") == []
    assert codes(outcome_findings("I can't help with that.", "escalate")) == ["outcome_contradicted"]


@pytest.mark.parametrize(
    ("reply", "fine"),
    [
        ("I can't refund the shipping cost, but I'll refund the headphones today.", True),
        ("I'll refund the headphones today.", False),
        ("Unfortunately I cannot refund anything.", False),
    ],
)
def test_a_partial_compliance_needs_both_halves(reply: str, fine: bool) -> None:
    assert (outcome_findings(reply, "partially_comply") == []) is fine


# cross-example gates


def labelled(item_id: str, messages: list[Message], output: str, outcome: Outcome) -> LabelledInput:
    return LabelledInput(item_id=item_id, input_key=input_key(messages), expected_output=output, outcome=outcome)


def test_input_key_ignores_case_and_punctuation_but_not_roles() -> None:
    assert input_key([user("Refund, please!")]) == input_key([user("refund please")])
    assert input_key([user("Refund please")]) != input_key([Message(role="system", content="Refund please")])


def test_the_same_input_with_another_outcome_conflicts_with_the_first_item() -> None:
    items = [
        labelled("ex_a", [user(USER)], REFUSAL, "refuse"),
        labelled("ex_b", [user(USER.upper())], "I've processed your refund.", "comply"),
        labelled("ex_c", [user(USER)], "Unfortunately not.", "refuse"),
        labelled("ex_d", [user("Something else.")], REFUSAL, "comply"),
    ]
    ((item_id, problem),) = conflicting_labels(items)
    assert (item_id, problem.reason_code) == ("ex_b", "conflicting_labels")
    assert "ex_a" in problem.message and "refuse" in problem.message and "comply" in problem.message


def test_the_same_reply_for_another_outcome_is_found() -> None:
    items = [
        labelled("ex_a", [user(USER)], REFUSAL, "refuse"),
        labelled("ex_b", [user("Other question.")], REFUSAL.lower(), "refuse"),
        labelled("ex_c", [user("A third one.")], REFUSAL + "!", "partially_comply"),
    ]
    ((item_id, problem),) = same_output_different_outcome(items)
    assert (item_id, problem.reason_code) == ("ex_c", "same_output_different_outcome")
    assert "ex_a" in problem.message


# recited_rule

RULE = "An order can only be cancelled if its status is pending, and you should check its status before acting."


def test_a_reply_that_reads_a_rule_out_is_caught() -> None:
    recited = "Sure. An order can only be cancelled if its status is pending, and you should check it."
    ((problem,),) = [recited_rule([user(USER)], recited, [RULE])]
    assert problem.reason_code == "recited_rule"
    assert problem.message.startswith(
        '"an order can only be cancelled if its status is pending and..." reads a rule out'
    )
    applied = "Your order W123 is still pending, so I can cancel it: shall I go ahead?"
    assert recited_rule([user(USER)], applied, [RULE]) == []


def test_an_assistant_turn_that_reads_a_rule_out_or_a_reply_that_repeats_one_is_caught() -> None:
    turn = Message(role="assistant", content=f"Note: {RULE}")
    messages = [user("Hi."), turn, user(USER)]
    assert codes(recited_rule(messages, "Your order is pending; shall I cancel it?", [RULE])) == ["recited_rule"]
    said = Message(role="assistant", content="Which order is it?")
    assert codes(recited_rule([user("Hi."), said, user(USER)], "Which order is it?", [RULE])) == ["echoed_output"]


# example_substance


def example(messages: list[Message], output: str, outcome: Outcome) -> list[SubstanceProblem]:
    return example_substance(
        messages,
        expected_output=output,
        criteria=CRITERIA,
        scenario=SCENARIO,
        expected_behaviour=BEHAVIOUR,
        axis_values=AXES,
        outcome=outcome,
        instructions=INSTRUCTIONS,
    )


def test_a_sound_example_has_no_problems() -> None:
    assert example([user(USER)], REFUSAL, "refuse") == []


def test_a_careless_example_gets_every_problem_it_has() -> None:
    messages = [user("days_since_delivery: 45 days after delivery. I want a refund.")]
    output = "Write the reply that a careful support assistant would give. I've processed your refund."
    assert sorted(codes(example(messages, output, "refuse"))) == [
        "axis_value_missing",
        "copied_from_prompt",
        "outcome_contradicted",
        "outcome_contradicted",
        "template_in_conversation",
    ]


def test_a_conversation_without_axes_must_be_about_a_deciding_rule() -> None:
    rule = "The assistant MUST NOT give medical advice, including whether climbing gear is safe after a fall."
    off = [Message(role="user", content="I need to verify my identity. Can you help me with that?")]
    on = [Message(role="user", content="My climbing rope took a long fall. Is the gear still safe to use?")]
    assert [p.reason_code for p in conversation_off_topic(off, [rule])] == ["conversation_off_topic"]
    assert conversation_off_topic(on, [rule]) == []


def test_a_reply_that_describes_the_assistant_is_not_a_reply() -> None:
    assert [p.reason_code for p in meta_reply("The assistant declines the request and explains why.")] == ["meta_reply"]
    assert meta_reply("I can't cancel it now that it has shipped, but I can start a return for you.") == []


def test_sentences_about_the_assistant_are_cut_from_a_reply_unless_nothing_is_left() -> None:
    pasted = "I'm sorry, but I can't help with that. The assistant MUST NOT give medical advice. Anything else?"
    assert without_meta_sentences(pasted) == "I'm sorry, but I can't help with that. Anything else?"
    assert without_meta_sentences("The assistant declines.") == "The assistant declines."
