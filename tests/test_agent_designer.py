"""Designer agent with a scripted FunctionModel: each value says which numbered rules apply; the code checks it."""

from agent_scripts import DOCUMENT, GIFT_CARDS, REFUND, WINDOW_30, Args, Script, retry_feedback
from inline_snapshot import snapshot
from pydantic_ai.models.function import FunctionModel

from synthgen.agents import designer
from synthgen.agents.designer import DesignerDeps
from synthgen.schemas.drafts import DesignDraft
from synthgen.schemas.outcomes import ValueRule
from synthgen.tools.repairs import repair_design

DEPS = DesignerDeps(document=DOCUMENT, use_cases=[REFUND], rules=[WINDOW_30, GIFT_CARDS])


def value(text: str, triggers: list[int] = [], not_applicable: list[int] = []) -> Args:  # noqa: B006
    return {"value": text, "triggers": triggers, "not_applicable": not_applicable}


def axis(name: str, *values: Args) -> Args:
    return {"name": name, "values": list(values), "rationale": "the rule's condition"}


DAYS = axis("days_since_purchase", value("10 days after purchase", [1]), value("31 days after purchase", [], [1]))
ITEM = axis("item_type", value("a jacket", [], [2]), value("a gift card", [2]))


def run_draft(script: Script) -> DesignDraft:
    result = designer.designer_agent.run_sync(designer.designer_prompt(DEPS), model=FunctionModel(script), deps=DEPS)
    return result.output


def test_prompt_numbers_the_rules_with_their_conditions_and_use_cases() -> None:
    assert designer.designer_prompt(DEPS) == snapshot("""\
Document: policy.md

<use_cases>
- Request a refund: get their money back
</use_cases>

<rules>
1. (permission, may) A refund may be requested within 30 days of purchase. | applies when: within 30 days of purchase | use cases: Request a refund
2. (prohibition, must) Gift cards are never refunded. | applies when: always | use cases: none
</rules>

Design the axes. Refer to rules by their numbers, 1 to 2.\
""")


def test_each_value_gets_its_rules_as_policy_ids() -> None:
    script = Script([{"axes": [DAYS, ITEM]}])
    draft = run_draft(script)
    axes = repair_design(draft, DEPS.rules).result
    assert len(script.received) == 1
    assert [a.name for a in axes] == ["days_since_purchase", "item_type"]
    assert axes[0].rules == [
        ValueRule(value="10 days after purchase", policy_id=WINDOW_30.id, status="triggered"),
        ValueRule(value="31 days after purchase", policy_id=WINDOW_30.id, status="inapplicable"),
    ]
    assert axes[1].policy_ids == [GIFT_CARDS.id]


def test_a_status_one_value_leaves_out_is_the_opposite_of_the_others() -> None:
    lazy = axis("days_since_purchase", value("10 days after purchase", [1]), value("31 days after purchase"))
    repaired = repair_design(DesignDraft.model_validate({"axes": [lazy]}), DEPS.rules)
    assert [(r.value, r.status) for r in repaired.result[0].rules] == [
        ("10 days after purchase", "triggered"),
        ("31 days after purchase", "inapplicable"),
    ]
    assert repaired.counts == {"rule_status_inferred": 1}


def test_an_answer_without_a_usable_axis_is_sent_back_with_every_problem() -> None:
    script = Script(
        [
            {
                "axes": [
                    axis("item_type", value("a jacket", [7]), value("a gift card")),
                    axis("use_case", value("refund", [1]), value("exchange", [], [1])),
                    axis("values", value("2", [1]), value("3", [], [1])),
                    axis("channel", value("A jacket", [2]), value(" a  JACKET ", [], [2])),
                    axis("tone", value("calm"), value("angry")),
                ]
            },
            {"axes": [ITEM]},
        ]
    )
    draft = run_draft(script)
    assert [a["name"] for a in draft.model_dump()["axes"]] == ["item_type"]
    assert retry_feedback(script.received[1]) == snapshot("""\
Fix these problems and answer again:
- axis 1 ('item_type'): there is no rule 7; rules are numbered 1 to 2
- axis 1 ('item_type'): no rule applies under one of its values and not under another; it tests nothing
- axis 2 ('use_case'): 'use_case' is reserved; remove this axis
- axis 3 ('values'): 'values' is a field of the answer, not a situation
- axis 4 ('channel'): values 'A jacket' and ' a  JACKET ' are the same
- axis 4 ('channel'): no rule applies under one of its values and not under another; it tests nothing
- axis 5 ('tone'): no rule applies under one of its values and not under another; it tests nothing
- no axis is usable: give at least one axis whose values make a conditional rule apply under one value and not under another\
""")


def test_no_axis_is_accepted_on_the_last_attempt_and_when_no_rule_has_a_condition() -> None:
    empty = {"axes": []}
    assert run_draft(Script([empty, empty, empty])).axes == []  # asked twice more, then accepted as it is
    unconditional = DesignerDeps(document=DOCUMENT, use_cases=[REFUND], rules=[GIFT_CARDS])
    script = Script([empty])
    result = designer.designer_agent.run_sync(
        designer.designer_prompt(unconditional), model=FunctionModel(script), deps=unconditional
    )
    assert result.output.axes == [] and len(script.received) == 1
