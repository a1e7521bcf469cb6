"""Dataset scores computed from the items alone."""

from synthgen.schemas.items import EvaluationCriterion, Evidence, Policy
from synthgen.tools.metrics import criterion_on_topic

ORDERS = Policy(
    id="pol_0123456789",
    document_id="doc_0123456789ab",
    statement="You can only take action on pending or delivered orders.",
    kind="condition",
    strength="must",
    applies_to=[],
    evidence=[
        Evidence(
            line_start=82, line_end=82, quote="Generally, you can only take action on pending or delivered orders."
        )
    ],
)


def criterion(
    text: str, quote: str = "Generally, you can only take action on pending or delivered orders."
) -> EvaluationCriterion:
    return EvaluationCriterion(
        criterion=text, policy_id=ORDERS.id, evidence=[Evidence(line_start=82, line_end=82, quote=quote)]
    )


def test_a_criterion_about_its_policy_is_on_topic() -> None:
    assert criterion_on_topic(criterion("The reply refuses to cancel an order that was already delivered"), ORDERS)
    assert criterion_on_topic(criterion("The reply checks the order is pending first"), ORDERS)  # "order" ~ "orders"


def test_a_criterion_copied_from_an_unrelated_illustration_is_off_topic() -> None:
    copied = criterion("The reply declines the refund because the purchase was 45 days ago")
    assert not criterion_on_topic(copied, ORDERS)
    # Words every criterion uses ("The reply must ...") do not make it about the policy.
    assert not criterion_on_topic(criterion("The reply must answer with that"), ORDERS)


def test_the_criterions_own_quote_counts_as_its_topic() -> None:
    about_refunds = criterion("The reply declines the refund", quote="Refunds are declined after 30 days.")
    assert criterion_on_topic(about_refunds, None)
