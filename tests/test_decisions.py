"""The deterministic checks of extraction decisions and the batching of candidates (tools/decisions.py, tools/batches.py)."""

import pytest

from synthgen.schemas.candidates import Candidate
from synthgen.schemas.drafts import MAX_BATCH_CANDIDATES, DecisionsDraft
from synthgen.tools.batches import LineTooLong, candidate_batches, candidate_tokens, refuse_long_lines
from synthgen.tools.decisions import (
    check_decisions,
    decide_unanswered,
    dropped_numbers,
    invented_share,
    normative_cue,
    own_statement,
    plain_list,
    statement_problem,
)
from synthgen.tools.parser import parse_document


def candidate(text: str, line: int = 3, **context: object) -> Candidate:
    fields = {"kind": "sentence", "heading_path": ["Refunds"], "lead_in": [], "header": None, **context}
    return Candidate(
        id=f"cand_{line}_1",
        line_start=line,
        line_end=line,
        text=text,
        quote=text,
        **fields,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("Refunds must include the receipt.", "must"),
        ("Never share a password.", "never"),
        ("A receipt is required.", "required"),
        ("Scraping is not allowed.", "not allowed"),
        ("Only the account holder may cancel.", "only"),
        ("You cannot return gift cards.", "cannot"),
        ("We sell outdoor gear.", None),
        ("Refunds should be fast.", None),  # should is a rule's strength, not a strong cue
    ],
)
def test_normative_cue(text: str, cue: str | None) -> None:
    assert normative_cue(candidate(text)) == cue


def test_a_code_block_never_has_a_cue() -> None:
    assert normative_cue(candidate("# you must not include card digits", kind="code")) is None


def test_own_statement_reads_alone() -> None:
    assert own_statement(candidate("**Gift cards** are final.")) == "Gift cards are final."
    item = candidate("gift cards", kind="list_item", lead_in=["We do not allow:", "We do not refund:"])
    assert own_statement(item) == "We do not refund: gift cards"
    row = candidate("| Gold | 60 days |", kind="table_row", header="| Tier | Window |")
    assert own_statement(row) == "Tier: Gold; Window: 60 days"
    ragged = candidate("| Gold |", kind="table_row", header="| Tier | Window |")
    assert own_statement(ragged) == "| Gold |"


def test_numbers_must_be_kept_as_written() -> None:
    source = candidate("Refunds over $1,000 take 5-7 business days, or 24/7 for Gold.")
    assert dropped_numbers(source, "Refunds over $1,000 take 5-7 business days, or 24/7 for Gold.") == []
    assert dropped_numbers(source, "Refunds over $1000 take 5 to 7 days.") == ["1,000", "24/7"]
    assert statement_problem(source, "Large refunds take a week.") == (
        "statement_dropped_number",
        "the statement drops 1,000, 5, 7, 24/7: keep every number exactly",
    )


def test_a_statement_may_draw_on_lead_in_and_headings_but_not_invent() -> None:
    item = candidate("is unlawful", kind="list_item", lead_in=["Users must not post content that:"])
    assert invented_share(item, "Users must not post content that is unlawful.") == 0
    assert statement_problem(item, "Users must not post content that is unlawful.") is None
    invented = "Moderators award badges to helpful contributors each month."
    assert invented_share(item, invented) == 1
    assert statement_problem(item, invented) is not None


def test_check_decisions_counts_repeats_and_unknown_numbers() -> None:
    shown = [candidate("Refunds must include the receipt."), candidate("We sell outdoor gear.", line=4)]
    draft = DecisionsDraft.model_validate(
        {"decisions": [
            {"n": 2, "is_rule": False, "reason": "description", "rules": []},
            {"n": 2, "is_rule": True, "reason": "rule", "rules": []},
            {"n": 3, "is_rule": False, "reason": "other", "rules": []},
        ]}
    )  # fmt: skip
    check = check_decisions(shown, draft)
    assert [c.id for c in check.missing] == ["cand_3_1"]  # asked again in a follow-up batch, not retried
    assert check.notes == {"repeated_decision_ignored": 1, "decision_for_unknown_candidate": 1}
    assert check.decided["cand_4_1"].reason == "description"


def test_an_unanswered_candidate_is_a_rule_only_with_a_cue() -> None:
    ruled = decide_unanswered(candidate("Refunds must never exceed the price paid."))
    assert (ruled.is_rule, ruled.decided_by, ruled.rules[0].kind) == (True, "normative_cue", "prohibition")
    left = decide_unanswered(candidate("We sell outdoor gear."))
    assert (left.is_rule, left.reason, left.decided_by) == (False, "not_decided", "no_answer")


@pytest.mark.parametrize(
    ("text", "kind", "lead_in", "plain"),
    [
        ("unique order id", "list_item", ["Each order has the following attributes:"], True),
        ("**payment history**", "list_item", ["Each user has a profile containing:"], True),
        ("Each order has the following attributes:", "sentence", [], True),
        ("There are three types of payment methods: gift card, paypal, credit card.", "sentence", [], True),
        # a modal or normative word anywhere keeps it the model's to decide
        ("is unlawful", "list_item", ["We do not allow content that:"], False),
        ("cancel pending orders", "list_item", ["As an agent, you can help users:"], False),
        ("original packaging", "list_item", ["Returns have the following conditions:"], False),
        ("unused items", "list_item", ["A return requires:"], False),
        ("an email that must be verified", "list_item", ["Each user has:"], False),
        # a longer item may state something; a plain sentence is not a list
        (
            "a note saying which warehouse will ship the replacement first",
            "list_item",
            ["Each order has the following attributes:"],
            False,
        ),
        ("Refunds go back to the original card.", "sentence", [], False),
        ("| Gold | 60 days |", "table_row", [], False),
    ],
)
def test_plain_list_of_fields_or_values(text: str, kind: str, lead_in: list[str], plain: bool) -> None:
    assert plain_list(candidate(text, kind=kind, lead_in=lead_in)) is plain


def test_a_field_list_item_the_model_calls_a_rule_is_overruled_and_counted() -> None:
    shown = [
        candidate("unique order id", kind="list_item", lead_in=["Each order has the following attributes:"]),
        candidate("is unlawful", line=4, kind="list_item", lead_in=["We do not allow content that:"]),
    ]
    statements = ["Each order has a unique order id.", "Content must not be unlawful."]
    draft = DecisionsDraft.model_validate(
        {"decisions": [
            {"n": n, "is_rule": True, "reason": "rule", "rules": [{"kind": "obligation", "strength": "must", "statement": s}]}
            for n, s in enumerate(statements, 1)
        ]}
    )  # fmt: skip
    check = check_decisions(shown, draft)
    field = check.decided["cand_3_1"]
    assert (field.is_rule, field.reason, field.decided_by) == (False, "description", "plain_list")
    assert check.decided["cand_4_1"].is_rule
    assert check.notes["rule_overruled_plain_list"] == 1


def test_batches_keep_document_order_within_the_budget_and_the_schema_bound() -> None:
    many = [candidate(f"Rule {n:03d} must hold.", line=n) for n in range(1, 101)]
    cost = candidate_tokens(many[0])
    batches = candidate_batches(many, cost * 10)
    assert [len(b) for b in batches] == [10] * 10
    assert [c for b in batches for c in b] == many
    assert max(len(b) for b in candidate_batches(many, 10**6)) == MAX_BATCH_CANDIDATES
    assert [len(b) for b in candidate_batches(many[:3], 1)] == [1, 1, 1]  # too big alone: a batch alone
    with pytest.raises(ValueError):
        candidate_batches(many, 0)


def test_a_line_longer_than_the_budget_refuses_the_document_naming_the_line() -> None:
    doc = parse_document("doc.md", "\n".join(["short", "x" * 400, "short", "y" * 400]).encode())
    with pytest.raises(LineTooLong, match=r"^doc.md line 2 is about 100 tokens, more than one extraction batch "
                       r"holds \(--window-tokens 20\): break the line up, or raise --window-tokens$"):  # fmt: skip
        refuse_long_lines(doc, 20)
    refuse_long_lines(doc, 100)  # exactly the budget fits
