"""Recall against a gold rule list: the loose and strict tests, precision, the per-kind table, bad lists."""

import json
from pathlib import Path

import pytest
from gold_lists import GOLD as GOLD_LISTS

from synthgen.errors import InputError
from synthgen.schemas.items import Evidence, Policy
from synthgen.tools.parser import parse_document
from synthgen.tools.recall import GoldRule, content_words, gold_misfit, measure_recall, parse_gold, states_rule

DOC = parse_document(
    "shop.md",
    b"# Shop policy\n"  # 1
    b"\n"  # 2
    b"Authenticate the user by email or by name and zip code. Do this even when the user gives their id.\n"  # 3
    b"Refunds go back to the original payment method within 5 business days.\n"  # 4
    b"Gift cards cannot be refunded.\n"  # 5
    b"A pending order is one that has not shipped yet.\n",  # 6
)
OTHER_DOC_ID = "doc_000000000000"


def rule(rule_id: str, text: str, line: int, kind: str = "obligation") -> GoldRule:
    return GoldRule(id=rule_id, rule=text, line_start=line, line_end=line, kind=kind, strength="must")  # type: ignore[arg-type]


GOLD = [
    rule("g1", "The agent must authenticate the user by email, or by name and zip code.", 3),
    rule("g2", "Authentication is required even when the user already provides their user id.", 3),
    rule("g3", "Refunds go to the original payment method within 5 business days.", 4),
    rule("g4", "Gift cards cannot be refunded.", 5, "prohibition"),
    rule("g5", "A pending order is an order that has not shipped.", 6, "definition"),
]


def policy(number: int, statement: str, lines: tuple[int, int], doc_id: str = DOC.id) -> Policy:
    start, end = lines
    quote = "\n".join(DOC.lines[start - 1 : end])
    return Policy(
        id=f"pol_{number:010x}",
        document_id=doc_id,
        statement=statement,
        kind="obligation",
        strength="must",
        applies_to=[],
        evidence=[Evidence(line_start=start, line_end=end, quote=quote)],
    )


def test_content_words_drop_stop_words_case_and_plural_endings() -> None:
    assert content_words("The Refunds are NOT refunded to gift cards") == {"refund", "gift", "card"}


def test_a_policy_states_the_rule_it_paraphrases_not_its_neighbour_on_the_same_line() -> None:
    authenticate = policy(1, "Authenticate users via their email address or via name plus zip code.", (3, 3))
    assert states_rule(authenticate, GOLD[0])
    assert not states_rule(authenticate, GOLD[1])


def test_loose_strict_precision_and_kinds() -> None:
    policies = [
        policy(1, "Authenticate users via their email address or via name plus zip code.", (3, 3)),  # g1 strictly
        policy(2, "Refunds are paid to the original payment method within five business days.", (4, 5)),  # g3
        policy(3, "Be polite.", (5, 5)),  # overlaps g4, states nothing
        policy(4, "Gift cards cannot be refunded.", (5, 5), doc_id=OTHER_DOC_ID),  # another document: ignored
    ]
    report = measure_recall(DOC, GOLD, policies, "gold.json")
    assert [(f.id, f.overlapping, f.stating) for f in report.found] == [
        ("g1", [policies[0].id], [policies[0].id]),
        ("g2", [policies[0].id], []),
        ("g3", [policies[1].id], [policies[1].id]),
        ("g4", [policies[1].id, policies[2].id], []),
        ("g5", [], []),
    ]
    assert (report.rules, report.policies, report.loose_found, report.strict_found) == (5, 3, 4, 2)
    assert (report.loose_recall, report.strict_recall) == (0.8, 0.4)
    assert report.policies_stating_a_rule == 2
    assert report.precision == 2 / 3
    assert [(k.kind, k.rules, k.loose, k.strict) for k in report.by_kind] == [
        ("obligation", 3, 3, 2),
        ("prohibition", 1, 1, 0),
        ("permission", 0, 0, 0),
        ("condition", 0, 0, 0),
        ("definition", 1, 0, 0),
    ]


def test_no_policy_means_no_recall_and_no_precision() -> None:
    report = measure_recall(DOC, GOLD, [], "gold.json")
    assert (report.loose_recall, report.strict_recall, report.precision) == (0.0, 0.0, 0.0)


def test_the_gold_list_fits_its_document_and_not_a_shifted_or_foreign_one() -> None:
    assert gold_misfit(DOC, GOLD, "gold.json") is None
    shifted = parse_document("shop.md", b"Intro line.\nSecond intro line.\n" + "\n".join(DOC.lines).encode())
    assert gold_misfit(shifted, GOLD, "gold.json") == (
        "gold.json does not describe shop.md: only 0 of its 5 rules share words with the lines they cite: "
        "give the gold list written for shop.md (or for its current text)"
    )
    short = parse_document("short.md", b"One line.\n")
    assert gold_misfit(short, GOLD, "gold.json") == (
        "gold.json cites lines 3-3 (rule g1) but short.md has 1 lines: give the gold list written for short.md"
    )


GOLD_FILES = dict(GOLD_LISTS)


@pytest.mark.parametrize("gold", GOLD_FILES, ids=lambda p: p.name)
def test_each_gold_list_fits_its_document_and_no_other(gold: Path) -> None:
    rules = parse_gold(gold.name, gold.read_bytes())
    assert len(GOLD_FILES) == 4
    for other, path in GOLD_FILES.items():
        misfit = gold_misfit(parse_document(path.name, path.read_bytes()), rules, gold.name)
        assert (misfit is None) == (other == gold), misfit


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", "g.json is not a gold list (Invalid JSON: key must be a string at line 1 column 2)"),
        (b'{"rules": []}', "g.json is not a gold list (Input should be a valid array)"),
        (b"[]", "g.json lists no rules"),
        (
            json.dumps([{"id": "g1", "rule": "x", "line_start": 1, "line_end": 1, "kind": "rule", "strength": "must"}]),
            (
                "g.json is not a gold list (rule 1 kind: Input should be 'obligation', 'prohibition', 'permission', "
                "'condition' or 'definition')"
            ),
        ),
        (
            json.dumps(
                [{"id": "g1", "rule": "x", "line_start": 4, "line_end": 2, "kind": "condition", "strength": "may"}]
            ),
            "g.json is not a gold list (rule 1: Value error, line_end 2 is before line_start 4)",
        ),
    ],
)
def test_a_malformed_gold_list_is_refused_in_one_line(data: bytes | str, message: str) -> None:
    with pytest.raises(InputError) as raised:
        parse_gold("g.json", data.encode() if isinstance(data, str) else data)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_a_gold_list_with_a_repeated_id_is_refused() -> None:
    rules = [r.model_dump() for r in GOLD[:2]]
    rules[1]["id"] = "g1"
    with pytest.raises(InputError, match="lists rule id 'g1' twice"):
        parse_gold("g.json", json.dumps(rules).encode())
