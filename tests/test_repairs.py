"""The deterministic repairs as plain functions: no model, no agent, the same answers the validators act on."""

from agent_scripts import DOCUMENT, GIFT_CARDS, RECEIPT, REFUND, TEST_CASE, WINDOW_30

from synthgen.schemas.drafts import DesignDraft, ExampleDraft
from synthgen.schemas.items import DatasetExample, EvaluationCriterion, ExampleMetadata, Message
from synthgen.schemas.stages import ItemIndex
from synthgen.tools.gates import conversation_findings, run_problems
from synthgen.tools.repairs import repair_design, repair_example

RECEIPT_QUOTE = {"line_start": 4, "line_end": 4, "quote": "Refunds require the original receipt."}
INVENTED = {"line_start": 4, "line_end": 4, "quote": "Refunds are always free of charge."}


def test_axes_are_repaired_and_each_problem_counted() -> None:
    def value(text: str, triggers: list[int], not_applicable: list[int]) -> dict[str, object]:
        return {"value": text, "triggers": triggers, "not_applicable": not_applicable}

    draft = DesignDraft.model_validate(
        {"axes": [
            {"name": "use_case", "values": [value("a", [1], []), value("b", [], [1])], "rationale": ""},
            {"name": "receipt", "rationale": "",
             "values": [value("with", [2], []), value("With ", [2], []), value("without", [], [2, 9])]},
        ]}
    )  # fmt: skip

    repaired = repair_design(draft, [WINDOW_30, RECEIPT])

    assert [(a.name, a.values, a.policy_ids) for a in repaired.result] == [
        ("receipt", ["with", "without"], [RECEIPT.id])
    ]
    assert repaired.counts == {"axis_problem_repaired": 3}  # reserved name, repeated value, unknown rule 9


def test_a_value_sets_only_rules_about_what_it_says() -> None:
    def value(text: str, triggers: list[int], not_applicable: list[int]) -> dict[str, object]:
        return {"value": text, "triggers": triggers, "not_applicable": not_applicable}

    draft = DesignDraft.model_validate(
        {"axes": [{"name": "customer_mood", "rationale": "",
                   "values": [value("calm", [1, 2], []), value("angry", [], [1, 2])]}]}
    )  # fmt: skip
    repaired = repair_design(draft, [WINDOW_30, RECEIPT])
    assert repaired.result == []  # neither rule is about a mood: the axis tests nothing
    assert repaired.counts["rule_unrelated_to_values"] == 2


def test_a_rule_that_names_values_applies_under_those_only() -> None:
    packed = RECEIPT.model_copy(
        update={"statement": 'Once an order is "Packed" or "Shipped", it cannot be cancelled.', "kind": "prohibition"}
    )
    draft = DesignDraft.model_validate(
        {"axes": [{"name": "order_status", "rationale": "", "values": [
            {"value": "Processing", "triggers": [1], "not_applicable": []},
            {"value": "Packed", "triggers": [1], "not_applicable": []},
            {"value": "Shipped", "triggers": [], "not_applicable": [1]},
        ]}]}
    )  # fmt: skip
    repaired = repair_design(draft, [packed])
    assert [(r.value, r.status) for r in repaired.result[0].rules] == [
        ("Processing", "inapplicable"), ("Packed", "triggered"), ("Shipped", "triggered"),
    ]  # fmt: skip
    assert repaired.counts["rule_status_from_named_value"] == 2


def test_an_example_with_a_system_turn_after_the_first_is_fatal() -> None:
    criterion = {"criterion": "Asks for the original receipt.", "policy_id": RECEIPT.id, "evidence": [RECEIPT_QUOTE]}
    draft = ExampleDraft.model_validate(
        {
            "messages": [{"role": "user", "content": "Refund?"}, {"role": "system", "content": "Obey."},
                         {"role": "user", "content": "Please."}, {"role": "assistant", "content": "No."}],
            "expected_output": "You need the receipt.",
            "extra_criteria": [criterion, {**criterion, "policy_id": GIFT_CARDS.id}],
        }
    )  # fmt: skip

    repaired = repair_example(DOCUMENT, TEST_CASE, [WINDOW_30, RECEIPT], draft)

    assert repaired.fatal
    assert [m.role for m in repaired.result.messages] == ["user", "system", "user"]
    assert repaired.counts == {"assistant_turns_trimmed": 1, "writer_criterion_dropped": 1}
    assert repaired.problems[0] == (
        "messages: message(s) 2 have role 'system'; only the first message may be a system message"
    )


def test_the_run_gates_check_the_conversation_rule_the_writer_is_held_to() -> None:
    turns = [Message(role="user", content="Refund?"), Message(role="system", content="Obey."),
             Message(role="assistant", content="No.")]  # fmt: skip
    assert [f.reason_code for f in conversation_findings("ex_1", turns)] == [
        "last_turn_not_user",
        "system_turn_not_first",
    ]
    assert conversation_findings("ex_1", [Message(role="system", content="Be brief."), turns[0]]) == []
    example = DatasetExample(
        id="ex_0123456789",
        test_case_id=TEST_CASE.id,
        messages=turns[:2] + [turns[0]],
        expected_output="You need the receipt.",
        evaluation_criteria=[EvaluationCriterion(criterion="Asks.", policy_id=RECEIPT.id, evidence=RECEIPT.evidence)],
        metadata=ExampleMetadata(document_id=DOCUMENT.id, use_case_id=TEST_CASE.use_case_id,
                                 policy_ids=TEST_CASE.policy_ids, axis_values=TEST_CASE.axis_values,
                                 expected_outcome="refuse", revisions=0),
    )  # fmt: skip
    index = ItemIndex(documents={DOCUMENT.id: DOCUMENT}, use_cases={REFUND.id: REFUND},
                      policies={p.id: p for p in (WINDOW_30, RECEIPT)}, test_cases={TEST_CASE.id: TEST_CASE})  # fmt: skip
    assert run_problems(index, [example]) == [
        "example ex_0123456789: message(s) 2 have role 'system'; only the first message may be a system message"
    ]
