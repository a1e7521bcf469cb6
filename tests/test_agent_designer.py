"""Test-design agent with a scripted FunctionModel: axes must cite real policies and be distinct."""

from agent_scripts import DOCUMENT, GIFT_CARDS, REFUND, WINDOW_30, Args, Script, retry_feedback
from inline_snapshot import snapshot
from pydantic_ai.models.function import FunctionModel

from synthgen.agents import designer
from synthgen.agents.designer import DesignerDeps
from synthgen.schemas.drafts import DesignDraft

DEPS = DesignerDeps(document=DOCUMENT, use_cases=[REFUND], policies=[WINDOW_30, GIFT_CARDS])


def axis(name: str, values: list[str], policy_ids: list[str]) -> Args:
    return {"name": name, "values": values, "rationale": "the 30-day limit", "policy_ids": policy_ids}


DAYS = axis("days_since_purchase", ["10 days after purchase", "31 days after purchase"], [WINDOW_30.id])
ITEM = axis("item_type", ["a jacket", "a gift card"], [GIFT_CARDS.id])


def run_draft(script: Script) -> DesignDraft:
    result = designer.designer_agent.run_sync(designer.designer_prompt(DEPS), model=FunctionModel(script), deps=DEPS)
    return result.output


def run(script: Script) -> list[str]:
    return [a.name for a in run_draft(script).axes]


def test_prompt_lists_use_cases_and_policies_with_ids() -> None:
    assert designer.designer_prompt(DEPS) == snapshot("""\
Document: policy.md

<use_cases>
- uc_0123456789 | Request a refund | goal: get their money back
</use_cases>

<policies>
- pol_aaaaaaaaaa | permission | A refund may be requested within 30 days of purchase. | when: within 30 days of purchase
- pol_cccccccccc | prohibition | Gift cards are never refunded. | when: always
</policies>

Design the variation axes. Refer to policies by the pol_ ids above.\
""")


def test_valid_axes_are_accepted_in_one_request() -> None:
    script = Script([{"axes": [DAYS, ITEM]}])

    assert run(script) == ["days_since_purchase", "item_type"]
    assert len(script.received) == 1


def test_an_answer_without_a_usable_axis_is_sent_back_with_every_problem() -> None:
    script = Script(
        [
            {
                "axes": [
                    axis("item_type", ["a jacket", "a gift card"], ["pol_dddddddddd"]),
                    axis("use_case", ["refund", "exchange"], [WINDOW_30.id]),
                    axis("values", ["2", "3"], [WINDOW_30.id]),
                    axis("channel", ["A jacket", " a  JACKET "], [GIFT_CARDS.id]),
                ]
            },
            {"axes": [ITEM]},
        ]
    )

    draft = run_draft(script)
    assert [a.name for a in draft.axes] == ["item_type"]
    assert retry_feedback(script.received[1]) == snapshot("""\
Fix these problems and answer again:
- axis 1 ('item_type'): unknown policy ids pol_dddddddddd; valid ids are pol_aaaaaaaaaa, pol_cccccccccc
- axis 2 ('use_case'): 'use_case' is reserved (use cases are added as an axis automatically); remove this axis
- axis 3 ('values'): 'values' is a field of the answer, not a property of the user's situation
- axis 4 ('channel'): values 'A jacket' and ' a  JACKET ' are the same; make the values distinct
- no axis is usable: give at least one axis with two distinct values and a policy id from the list\
""")
    assert draft.repairs == {}  # the accepted answer needed no repair


def test_repairable_axes_are_repaired_without_a_retry() -> None:
    script = Script(
        [
            {
                "axes": [
                    axis("use_case", ["refund", "exchange"], [WINDOW_30.id]),
                    DAYS,
                    axis("days_since_purchase", ["A jacket", "a gift card"], [GIFT_CARDS.id]),
                    axis("item_type", ["a jacket", " a  JACKET ", "a gift card"], [GIFT_CARDS.id, "pol_dddddddddd"]),
                ]
            },
        ]
    )

    draft = run_draft(script)
    assert [a.name for a in draft.axes] == ["days_since_purchase", "item_type"]
    assert len(script.received) == 1
    assert draft.repairs == {"axis_problem_repaired": 4}  # reserved name, repeated name, unknown id, repeated value
