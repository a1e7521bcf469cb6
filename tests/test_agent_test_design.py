"""Test-design agent with a scripted FunctionModel: axes must cite real policies and be distinct."""

from dataclasses import dataclass, field, replace
from typing import Any

from inline_snapshot import snapshot
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from synthgen.agents import test_design
from synthgen.agents.test_design import TestDesignDeps
from synthgen.schemas.items import Evidence, Policy, UseCase
from synthgen.tools.parser import parse_document

DOCUMENT = parse_document(
    "policy.md",
    b"# Refunds\n\nA customer may request a refund within 30 days of purchase.\nGift cards are never refundable.\n",
)
REFUND = UseCase(
    id="uc_0123456789",
    document_id=DOCUMENT.id,
    name="Request a refund",
    actor="customer",
    goal="get their money back",
    description="A customer asks for a refund.",
    evidence=[Evidence(line_start=3, line_end=3, quote="may request a refund")],
)
WINDOW_30 = Policy(
    id="pol_aaaaaaaaaa",
    document_id=DOCUMENT.id,
    statement="A refund may be requested within 30 days of purchase.",
    kind="permission",
    conditions=["within 30 days of purchase"],
    applies_to=[REFUND.id],
    evidence=[Evidence(line_start=3, line_end=3, quote="within 30 days of purchase")],
)
GIFT_CARDS = Policy(
    id="pol_bbbbbbbbbb",
    document_id=DOCUMENT.id,
    statement="Gift cards are never refunded.",
    kind="prohibition",
    applies_to=[],
    evidence=[Evidence(line_start=4, line_end=4, quote="Gift cards are never refundable.")],
)
DEPS = TestDesignDeps(document=DOCUMENT, use_cases=[REFUND], policies=[WINDOW_30, GIFT_CARDS])

Args = dict[str, Any]  # arguments of one scripted output call, as a model would send them


@dataclass
class Script:
    answers: list[Args]
    received: list[list[ModelMessage]] = field(default_factory=list)

    def __call__(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        self.received.append(list(messages))
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, self.answers[len(self.received) - 1])])


def retry_feedback(messages: list[ModelMessage]) -> str:
    request = messages[-1]
    assert isinstance(request, ModelRequest)
    part = request.parts[-1]
    assert isinstance(part, ToolReturnPart) and part.outcome == "retried"
    assert isinstance(part.content, str)
    return part.content


def axis(name: str, values: list[str], policy_ids: list[str]) -> Args:
    return {"name": name, "values": values, "rationale": "the 30-day limit", "policy_ids": policy_ids}


DAYS = axis("days_since_purchase", ["10 days after purchase", "31 days after purchase"], [WINDOW_30.id])
ITEM = axis("item_type", ["a jacket", "a gift card"], [GIFT_CARDS.id])


def run(script: Script, deps: TestDesignDeps | None = None) -> list[str]:
    deps = deps or replace(DEPS)
    result = test_design.test_design_agent.run_sync(
        test_design.test_design_prompt(deps), model=FunctionModel(script), deps=deps
    )
    return [a.name for a in result.output.axes]


def test_prompt_lists_use_cases_and_policies_with_ids() -> None:
    assert test_design.test_design_prompt(DEPS) == snapshot("""\
Document: policy.md

<use_cases>
- uc_0123456789 | Request a refund | goal: get their money back
</use_cases>

<policies>
- pol_aaaaaaaaaa | permission | A refund may be requested within 30 days of purchase. | when: within 30 days of purchase
- pol_bbbbbbbbbb | prohibition | Gift cards are never refunded. | when: always
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
                    axis("item_type", ["a jacket", "a gift card"], ["pol_cccccccccc"]),
                    axis("use_case", ["refund", "exchange"], [WINDOW_30.id]),
                    axis("values", ["2", "3"], [WINDOW_30.id]),
                    axis("channel", ["A jacket", " a  JACKET "], [GIFT_CARDS.id]),
                ]
            },
            {"axes": [ITEM]},
        ]
    )

    deps = replace(DEPS)
    assert run(script, deps) == ["item_type"]
    assert retry_feedback(script.received[1]) == snapshot("""\
Fix these problems and answer again:
- axis 1 ('item_type'): unknown policy ids pol_cccccccccc; valid ids are pol_aaaaaaaaaa, pol_bbbbbbbbbb
- axis 2 ('use_case'): 'use_case' is reserved (use cases are added as an axis automatically); remove this axis
- axis 3 ('values'): 'values' is a field of the answer, not a property of the user's situation
- axis 4 ('channel'): values 'A jacket' and ' a  JACKET ' are the same; make the values distinct
- no axis is usable: give at least one axis with two distinct values and a policy id from the list\
""")
    assert deps.repairs == 0  # the accepted answer needed no repair


def test_repairable_axes_are_repaired_without_a_retry() -> None:
    script = Script(
        [
            {
                "axes": [
                    axis("use_case", ["refund", "exchange"], [WINDOW_30.id]),
                    DAYS,
                    axis("days_since_purchase", ["A jacket", "a gift card"], [GIFT_CARDS.id]),
                    axis("item_type", ["a jacket", " a  JACKET ", "a gift card"], [GIFT_CARDS.id, "pol_cccccccccc"]),
                ]
            },
        ]
    )

    deps = replace(DEPS)
    assert run(script, deps) == ["days_since_purchase", "item_type"]
    assert len(script.received) == 1
    assert deps.repairs == 4  # reserved name, repeated name, unknown id, repeated value
