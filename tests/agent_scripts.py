"""What the agent tests share: a scripted FunctionModel body, its message helpers, and a small refund policy.

Importable from the tests as `agent_scripts` (pyproject.toml puts tests/ on the pytest pythonpath).
"""

from dataclasses import dataclass, field
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo

from synthgen.schemas.items import Evidence, Policy, TestCase, UseCase
from synthgen.schemas.outcomes import DecidingRule
from synthgen.tools.parser import parse_document

Args = dict[str, Any]  # arguments of one scripted tool call, as a model would send them


@dataclass
class Script:
    """A FunctionModel body that plays back answers in order and keeps what it was sent.

    An answer is either the output tool's arguments or a ToolCallPart calling one of the agent's tools.
    """

    answers: list[Args | ToolCallPart]
    received: list[list[ModelMessage]] = field(default_factory=list)

    def __call__(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        self.received.append(list(messages))
        answer = self.answers[len(self.received) - 1]
        if isinstance(answer, ToolCallPart):
            return ModelResponse(parts=[answer])
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, answer)])


def last_part(messages: list[ModelMessage]) -> ToolReturnPart:
    """The tool return that ends a request: what the model is told about its last tool call."""
    request = messages[-1]
    assert isinstance(request, ModelRequest)
    part = request.parts[-1]
    assert isinstance(part, ToolReturnPart)
    return part


def retry_feedback(messages: list[ModelMessage]) -> str:
    """The validator's ModelRetry message, as the model receives it on the next request."""
    part = last_part(messages)
    assert part.outcome == "retried"
    assert part.retry is not None and part.retry.cause == "model_retry"
    assert isinstance(part.content, str)
    return part.content


DOCUMENT = parse_document(
    "policy.md",
    b"""# Refunds

A customer may request a refund within 30 days of purchase.
Refunds require the original receipt.
Gift cards are never refundable.
""",
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
    strength="may",
    conditions=["within 30 days of purchase"],
    applies_to=[REFUND.id],
    evidence=[Evidence(line_start=3, line_end=3, quote="within 30 days of purchase")],
)
RECEIPT = Policy(
    id="pol_bbbbbbbbbb",
    document_id=DOCUMENT.id,
    statement="A refund requires the original receipt.",
    kind="condition",
    strength="must",
    applies_to=[REFUND.id],
    evidence=[Evidence(line_start=4, line_end=4, quote="Refunds require the original receipt.")],
)
GIFT_CARDS = Policy(
    id="pol_cccccccccc",
    document_id=DOCUMENT.id,
    statement="Gift cards are never refunded.",
    kind="prohibition",
    strength="must",
    applies_to=[],
    evidence=[Evidence(line_start=5, line_end=5, quote="Gift cards are never refundable.")],
)
TEST_CASE = TestCase(
    id="tc_0123456789",
    document_id=DOCUMENT.id,
    use_case_id=REFUND.id,
    policy_ids=[WINDOW_30.id, RECEIPT.id],
    axis_values={"days_since_purchase": "31 days after purchase", "receipt": "has the receipt"},
    scenario="A customer with the receipt asks for a refund 31 days after purchase.",
    deciding_rules=[
        DecidingRule(policy_id=WINDOW_30.id, status="inapplicable", effect="refuse", because="31 days after purchase"),
        DecidingRule(policy_id=RECEIPT.id, status="triggered", effect="comply", because="has the receipt"),
    ],
    expected_outcome="refuse",
    must=['follow this rule (here: has the receipt): "A refund requires the original receipt"'],
    must_not=[
        (
            "grant what this rule allows only when it applies, since it does not (here: 31 days after purchase): "
            '"A refund may be requested within 30 days of purchase"'
        )
    ],
    expected_behaviour="Outcome refuse: decline the request and say which rule prevents it.",
)
