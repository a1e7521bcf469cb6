"""Extraction agent with a scripted FunctionModel: one decision per candidate, checked, never sent back for content."""

import pytest
from agent_scripts import Args, Script
from inline_snapshot import snapshot
from pydantic_ai.models.function import FunctionModel

from synthgen.agents.extraction import ExtractionDeps, extraction_agent, extraction_prompt
from synthgen.schemas.drafts import DecisionsDraft
from synthgen.tools.decisions import check_decisions
from synthgen.tools.parser import parse_document
from synthgen.tools.segment import segment

POLICY = b"""# Refunds

## Eligibility

A customer may request a refund within 30 days of purchase.
Refunds must include the original receipt.

We do not refund:

- gift cards
- items bought on sale

| Tier | Window |
|---|---|
| Gold | 60 days |

## About us

We have sold outdoor gear since 1998.
"""
DOCUMENT = parse_document("policy.md", POLICY)
CANDIDATES = tuple(segment(DOCUMENT))
DEPS = ExtractionDeps(document=DOCUMENT, candidates=CANDIDATES)
WITHIN_30, RECEIPT, LEAD_IN, GIFT_CARDS, SALE, GOLD, HISTORY = range(1, 8)


def rule(statement: str = "", kind: str = "obligation", strength: str = "must") -> Args:
    return {"kind": kind, "strength": strength, "statement": statement, "conditions": [], "binds": ""}


def decide(n: int, *rules: Args) -> Args:
    return {"n": n, "is_rule": True, "reason": "rule", "rules": list(rules) or [rule()]}


def not_rule(n: int, reason: str = "description") -> Args:
    return {"n": n, "is_rule": False, "reason": reason, "rules": []}


GOOD = [
    decide(WITHIN_30, rule(kind="permission", strength="may")),
    decide(RECEIPT, rule(kind="condition")),
    not_rule(LEAD_IN, "heading"),
    decide(GIFT_CARDS, rule("Gift cards are not refunded.", kind="prohibition")),
    decide(SALE, rule(kind="prohibition")),
    decide(GOLD),
    not_rule(HISTORY),
]


def answer(*decisions: Args) -> Args:
    return {"decisions": list(decisions)}


def replaced(number: int, decision: Args) -> list[Args]:
    return [decision if d["n"] == number else d for d in GOOD]


def run(script: Script) -> DecisionsDraft:
    result = extraction_agent.run_sync(extraction_prompt(DEPS), model=FunctionModel(script), deps=DEPS)
    return result.output


def test_prompt_numbers_the_candidates_under_their_headings_with_lead_ins_and_headers() -> None:
    assert extraction_prompt(DEPS) == snapshot("""\
Document: policy.md

## Refunds > Eligibility
[1] A customer may request a refund within 30 days of purchase.
[2] Refunds must include the original receipt.
[3] We do not refund:
List introduced by: We do not refund:
[4] gift cards
[5] items bought on sale
Table header: | Tier | Window |
[6] | Gold | 60 days |

## Refunds > About us
[7] We have sold outdoor gear since 1998.

Give exactly 7 decisions, for candidates 1 to 7, in order.\
""")


def test_a_complete_faithful_answer_is_accepted_without_a_retry() -> None:
    script = Script([answer(*GOOD)])
    draft = run(script)
    check = check_decisions(CANDIDATES, draft)
    assert len(script.received) == 1
    assert not check.missing and not check.notes
    statements = [r.statement for d in check.decided.values() for r in d.rules]
    assert statements == [
        "A customer may request a refund within 30 days of purchase.",
        "Refunds must include the original receipt.",
        "Gift cards are not refunded.",
        "We do not refund: items bought on sale",  # an empty statement: the item after its lead-in
        "Tier: Gold; Window: 60 days",  # a table row: its cells named by the header
    ]


def test_a_skipped_candidate_is_left_for_the_follow_up_batch() -> None:
    script = Script([answer(*[d for d in GOOD if d["n"] != SALE])])
    check = check_decisions(CANDIDATES, run(script))
    assert len(script.received) == 1  # a retry would regenerate the whole batch: the stage asks it alone
    assert [c.text for c in check.missing] == ["items bought on sale"]


def test_a_statement_that_drops_a_number_falls_back_to_the_candidate_text() -> None:
    dropped = decide(WITHIN_30, rule("A customer may request a refund soon after purchase.", "permission", "may"))
    script = Script([answer(*replaced(WITHIN_30, dropped))])
    check = check_decisions(CANDIDATES, run(script))
    assert len(script.received) == 1  # no retry: the fallback is deterministic
    (kept,) = check.decided[CANDIDATES[0].id].rules
    assert kept.statement == "A customer may request a refund within 30 days of purchase."
    assert (kept.kind, kept.strength) == ("permission", "may")  # the model's decision stands, its words do not
    assert check.notes == {"statement_dropped_number": 1}


def test_an_invented_statement_falls_back_to_the_candidate_text() -> None:
    invented = decide(RECEIPT, rule("Shoppers get loyalty points for every purchase over the holidays."))
    check = check_decisions(CANDIDATES, run(Script([answer(*replaced(RECEIPT, invented))])))
    assert check.decided[CANDIDATES[1].id].rules[0].statement == "Refunds must include the original receipt."
    assert check.notes == {"statement_invented": 1}


def test_a_must_candidate_called_no_rule_becomes_a_rule_by_its_cue() -> None:
    script = Script([answer(*replaced(RECEIPT, not_rule(RECEIPT)))])
    check = check_decisions(CANDIDATES, run(script))
    assert len(script.received) == 1
    decided = check.decided[CANDIDATES[1].id]
    assert (decided.is_rule, decided.decided_by) == (True, "normative_cue")
    assert [(r.statement, r.strength) for r in decided.rules] == [
        ("Refunds must include the original receipt.", "must")
    ]
    assert check.notes == {"rule_by_normative_cue": 1}


def test_decisions_numbered_off_by_two_are_realigned_by_their_statements() -> None:
    # The model skipped the first two candidates and numbered from 1: each statement names the
    # candidate two further on, and the not-a-rule decision after them follows the same offset.
    shifted = answer(
        decide(1, rule("Gift cards are not refunded.", kind="prohibition")),  # meant for 4
        decide(2, rule("We do not refund items bought on sale.", kind="prohibition")),  # meant for 5
        decide(3, rule("Gold tier: the window is 60 days.")),  # meant for 6
        not_rule(4),  # meant for 7
    )
    check = check_decisions(CANDIDATES, run(Script([shifted])))
    assert [(c.text, d.is_rule) for c, d in ((d.candidate, d) for d in check.decided.values())] == [
        ("gift cards", True),
        ("items bought on sale", True),
        ("| Gold | 60 days |", True),
        ("We have sold outdoor gear since 1998.", False),
    ]
    assert check.notes == {"decision_realigned": 4}
    assert [c.text for c in check.missing][:2] == [CANDIDATES[0].text, CANDIDATES[1].text]


def test_a_rule_called_an_obligation_whose_text_forbids_is_a_prohibition() -> None:
    check = check_decisions(CANDIDATES, run(Script([answer(*replaced(SALE, decide(SALE, rule())))])))
    assert check.decided[CANDIDATES[SALE - 1].id].rules[0].kind == "prohibition"  # "We do not refund:" lead-in
    assert check.notes == {"kind_from_cue": 1}


def test_a_decision_for_a_number_not_shown_is_ignored_and_counted() -> None:
    script = Script([answer(*GOOD, decide(12))])
    check = check_decisions(CANDIDATES, run(script))
    assert len(script.received) == 1
    assert len(check.decided) == 7 and check.notes == {"decision_for_unknown_candidate": 1}


@pytest.mark.parametrize("bad", [{"decisions": [{"n": 0, "is_rule": True, "reason": "rule", "rules": []}]}])
def test_the_output_schema_bounds_numbers(bad: Args) -> None:
    with pytest.raises(ValueError):
        DecisionsDraft.model_validate(bad)
