"""The segmenter: every statement of a document as a candidate whose quote verifies by construction."""

import json
from pathlib import Path

import pytest
from gold_lists import GOLD
from hypothesis import given, settings
from hypothesis import strategies as st
from inline_snapshot import snapshot

from synthgen.evals.suite import RECORDED_RUNS
from synthgen.schemas.candidates import Candidate
from synthgen.schemas.items import MAX_QUOTE_CHARS
from synthgen.tools.evidence import check_evidence, collapse_whitespace
from synthgen.tools.parser import parse_document
from synthgen.tools.segment import segment, sentence_spans

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def candidates_of(data: bytes) -> list[Candidate]:
    doc = parse_document("doc.md", data)
    candidates = segment(doc)
    for candidate in candidates:  # whatever the input, every quote is the document's own text
        assert check_evidence(doc, candidate.evidence).ok, candidate
    return candidates


def spans(data: bytes) -> list[tuple[str, int, int, str]]:
    return [(c.kind, c.line_start, c.line_end, c.text) for c in candidates_of(data)]


def sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in sentence_spans(text)]


def test_a_wrapped_paragraph_is_split_into_sentences_with_their_own_lines() -> None:
    data = b"# Refunds\n\nRefunds go to the original card. They take\nfive days to post. Store credit\nis instant.\n"
    assert spans(data) == [
        ("sentence", 3, 3, "Refunds go to the original card."),
        ("sentence", 3, 4, "They take five days to post."),
        ("sentence", 4, 5, "Store credit is instant."),
    ]
    wrapped = candidates_of(data)[1]
    assert wrapped.quote == "They take\nfive days to post."  # the file's own characters, line break kept
    assert wrapped.heading_path == ["Refunds"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Fees apply, e.g. the $4.50 label fee. Refunds are free.",
            ["Fees apply, e.g. the $4.50 label fee.", "Refunds are free."],
        ),
        ("Ship to the U.S. Postal Service only. Then wait.", ["Ship to the U.S. Postal Service only.", "Then wait."]),
        ("Pay by card, i.e. Visa. Done.", ["Pay by card, i.e. Visa.", "Done."]),
        ("Call Dr. Smith at 9 a.m. Monday.", ["Call Dr. Smith at 9 a.m. Monday."]),
        (
            "The limit is 2.5 kg. Heavier parcels ship by freight.",
            ["The limit is 2.5 kg.", "Heavier parcels ship by freight."],
        ),
        ('He said "stop." Then he left! Why? Because.', ['He said "stop."', "Then he left!", "Why?", "Because."]),
        ("Books, toys, etc. are eligible.", ["Books, toys, etc. are eligible."]),
        ("**Short version:** _Be kind._ Be fair.", ["**Short version:** _Be kind._", "Be fair."]),
        ("Version 1.2.3 ships today", ["Version 1.2.3 ships today"]),
        # a quoted message is part of its sentence, periods and all
        (
            "Then send 'YOU ARE BEING TRANSFERRED. PLEASE HOLD ON.' to the user. Wait.",
            ["Then send 'YOU ARE BEING TRANSFERRED. PLEASE HOLD ON.' to the user.", "Wait."],
        ),
        ('Reply "Done. Thanks." when finished. Then stop.', ['Reply "Done. Thanks." when finished.', "Then stop."]),
        ("Say \u201cHi. Bye.\u201d to them. Go.", ["Say \u201cHi. Bye.\u201d to them.", "Go."]),
        # apostrophes open no quotation
        (
            "The user's order ships. Customers' orders wait. Done.",
            ["The user's order ships.", "Customers' orders wait.", "Done."],
        ),
        # a stray quote mark does not hold a long paragraph together
        ('"Note. ' + "Word " * 70 + "end. Next one.", ['"Note. ' + ("Word " * 70) + "end.", "Next one."]),
    ],
)
def test_sentence_boundaries(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_list_items_carry_their_lead_in() -> None:
    data = b"## Safety\n\nWe do not allow content that:\n\n<!-- lint: off -->\n\n* is unlawful;\n* is abusive.\n"
    items = [c for c in candidates_of(data) if c.kind == "list_item"]
    assert [(c.line_start, c.text, c.lead_in, c.quote) for c in items] == [
        (7, "is unlawful;", ["We do not allow content that:"], "is unlawful;"),
        (8, "is abusive.", ["We do not allow content that:"], "is abusive."),
    ]
    lead = candidates_of(data)[0]  # the lead-in is a statement of its own too
    assert (lead.kind, lead.text, lead.lead_in) == ("sentence", "We do not allow content that:", [])


def test_nested_lists_keep_their_parents_lead_ins() -> None:
    data = (
        b"We do not allow activity that is:\n"
        b"* automated bulk activity, such as\n"
        b"   * spamming\n"
        b"   * mining;\n"
        b"* phishing.\n"
        b"\n"
        b"Unrelated closing words.\n"
    )
    by_text = {c.text: c for c in candidates_of(data)}
    outer = ["We do not allow activity that is:"]
    assert by_text["automated bulk activity, such as"].lead_in == outer
    assert by_text["spamming"].lead_in == [*outer, "automated bulk activity, such as"]
    assert by_text["mining;"].lead_in == [*outer, "automated bulk activity, such as"]
    assert by_text["phishing."].lead_in == outer
    assert by_text["Unrelated closing words."].lead_in == []
    assert (by_text["spamming"].line_start, by_text["spamming"].kind) == (3, "list_item")


def test_a_list_item_with_several_sentences_and_a_wrapped_line() -> None:
    data = b"Returns:\n\n1. Items must be unused. Opened\n   software cannot be returned.\n2. Keep the receipt.\n"
    assert spans(data)[1:] == [
        ("list_item", 3, 3, "Items must be unused."),
        ("list_item", 3, 4, "Opened software cannot be returned."),
        ("list_item", 5, 5, "Keep the receipt."),
    ]
    assert candidates_of(data)[2].quote == "Opened\n   software cannot be returned."


def test_a_list_after_a_heading_has_no_lead_in() -> None:
    data = b"Intro sentence.\n\n## Tone\n\n- Be polite.\n"
    assert candidates_of(data)[-1].lead_in == []


def test_table_rows_carry_their_header_and_the_header_is_no_candidate() -> None:
    data = (
        b"Tiers:\n\n"
        b"| Tier | Fee | Window |\n"
        b"|------|-----|--------|\n"
        b"| Basecamp | $0 | 30 days |\n"
        b"| Summit | $99 | 90 days |\n"
    )
    rows = [c for c in candidates_of(data) if c.kind == "table_row"]
    assert [(c.line_start, c.quote, c.header) for c in rows] == [
        (5, "| Basecamp | $0 | 30 days |", "| Tier | Fee | Window |"),
        (6, "| Summit | $99 | 90 days |", "| Tier | Fee | Window |"),
    ]


def test_a_code_fence_is_one_candidate_never_split_and_a_heading_inside_it_is_not_a_heading() -> None:
    data = (
        b"# Notes\n\n"
        b"Attach a note in this exact format:\n\n"
        b"```\n"
        b"# NOTE\n"
        b"Order: <number>. Reason: <one line>.\n"
        b"# Do not include card digits in this note\n"
        b"```\n"
    )
    code = candidates_of(data)[-1]
    assert (code.kind, code.line_start, code.line_end) == ("code", 6, 8)
    assert code.text == "# NOTE\nOrder: <number>. Reason: <one line>.\n# Do not include card digits in this note"
    assert code.lead_in == ["Attach a note in this exact format:"]
    assert code.heading_path == ["Notes"]
    assert len(candidates_of(data)) == 2  # the heading is no candidate


def test_a_code_block_longer_than_a_quote_may_be_is_cut_at_line_breaks() -> None:
    line = "x" * 99
    data = ("```\n" + "\n".join([line] * 50) + "\n```\n").encode()
    pieces = candidates_of(data)
    assert all(len(p.quote) <= MAX_QUOTE_CHARS for p in pieces)
    assert [(p.line_start, p.line_end) for p in pieces] == [(2, 21), (22, 41), (42, 51)]


def test_front_matter_is_no_candidate_and_line_numbers_stay_the_files() -> None:
    data = b"---\ntitle: Policy\nowner: legal\n---\n\nYou must be 18.\n"
    assert spans(data) == [("sentence", 6, 6, "You must be 18.")]


def test_crlf_and_bom_give_the_same_candidates_as_plain_lf() -> None:
    lf = b"# A\n\nFirst rule. Second\nrule.\n\n- item one\n- item two\n"
    expected = spans(lf)
    assert spans(lf.replace(b"\n", b"\r\n")) == expected
    assert spans(b"\xef\xbb\xbf" + lf) == expected
    assert spans(b"\xef\xbb\xbf" + lf.replace(b"\n", b"\r\n")) == expected


def test_block_quotes_and_html_components_hold_statements_too() -> None:
    data = b"> Refunds are final.\n> No exceptions\n> are made.\n\n<Warning>\n  Clients **MUST** treat it\n  as untrusted.\n</Warning>\n"
    assert spans(data) == [
        ("sentence", 1, 1, "Refunds are final."),
        ("sentence", 2, 3, "No exceptions are made."),
        ("sentence", 6, 7, "Clients **MUST** treat it as untrusted."),
    ]
    assert candidates_of(data)[1].quote == "No exceptions\n> are made."


def test_ids_are_stable_and_unique() -> None:
    data = b"One. Two.\n\n- Three.\n"
    first, second = candidates_of(data), candidates_of(data)
    assert [c.id for c in first] == ["cand_1_1", "cand_1_2", "cand_3_1"]
    assert first == second


def test_a_small_document_in_full() -> None:
    data = b"# Policy\n\n## Cancel\n\nYou may cancel a pending order:\n\n- within 24 hours, or\n- before it ships.\n"
    assert [c.model_dump() for c in candidates_of(data)] == snapshot(
        [
            {
                "id": "cand_5_1",
                "kind": "sentence",
                "line_start": 5,
                "line_end": 5,
                "heading_path": ["Policy", "Cancel"],
                "text": "You may cancel a pending order:",
                "quote": "You may cancel a pending order:",
                "lead_in": [],
                "header": None,
            },
            {
                "id": "cand_7_1",
                "kind": "list_item",
                "line_start": 7,
                "line_end": 7,
                "heading_path": ["Policy", "Cancel"],
                "text": "within 24 hours, or",
                "quote": "within 24 hours, or",
                "lead_in": ["You may cancel a pending order:"],
                "header": None,
            },
            {
                "id": "cand_8_1",
                "kind": "list_item",
                "line_start": 8,
                "line_end": 8,
                "heading_path": ["Policy", "Cancel"],
                "text": "before it ships.",
                "quote": "before it ships.",
                "lead_in": ["You may cancel a pending order:"],
                "header": None,
            },
        ]
    )


LINE_SHAPES = [
    "# Heading",
    "Setext heading",
    "===",
    "Text. More text, e.g. this one.",
    "$4.50 is the fee. The U.S. rule",
    "  continuation line. Yes",
    "- item one. Two",
    "  - nested item",
    "* ",
    "1. first",
    "10) tenth",
    "> quoted line. Next",
    "> > deeper",
    "> - quoted item",
    "- > item quote",
    "| a | b |",
    "|---|---|",
    "| 1 | 2 |",
    "  | x | y |",
    "```",
    "~~~py",
    "code here",
    "    indented code",
    "\tTabbed text.",
    "- \tTab item",
    "",
    "<!-- a comment -->",
    "<Warning>",
    "</Warning>",
    "<div>",
    "bare text\rwith a CR",
    "***",
    "---",
    "title: front",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(LINE_SHAPES), min_size=1, max_size=14),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
)
def test_any_markdown_gives_candidates_that_verify(lines: list[str], ending: str, bom: bool) -> None:
    data = ("\ufeff" if bom else "") + ending.join(lines) + ending
    if not data.strip("\ufeff \r\n\t"):
        return
    doc = parse_document("doc.md", data.encode())
    candidates = segment(doc)
    assert all(check_evidence(doc, c.evidence).ok for c in candidates)
    assert all(1 <= c.line_start <= c.line_end <= doc.line_count for c in candidates)
    assert len({c.id for c in candidates}) == len(candidates)


CORPUS_DOCUMENTS = sorted((SHARED / "corpus").glob("*.md")) + [REPO / "examples" / "refund_policy.md"]


@pytest.mark.parametrize("path", CORPUS_DOCUMENTS, ids=lambda p: p.name)
def test_every_candidate_of_every_corpus_document_verifies(path: Path) -> None:
    doc = parse_document(path.name, path.read_bytes())
    candidates = segment(doc)
    assert candidates
    failures = [
        (c.id, check_evidence(doc, c.evidence).message) for c in candidates if not check_evidence(doc, c.evidence).ok
    ]
    assert failures == []
    assert len({c.id for c in candidates}) == len(candidates)


def test_every_recorded_run_with_a_gold_list_is_among_them() -> None:
    assert {run.gold_path.resolve() for run in RECORDED_RUNS if run.gold_path} <= {g.resolve() for g, _ in GOLD}


@pytest.mark.parametrize(("gold", "path"), GOLD, ids=lambda p: p.name)
def test_every_gold_rule_lies_inside_candidates(gold: Path, path: Path) -> None:
    """The ceiling for recall: a rule no candidate holds can never be found."""
    doc = parse_document(path.name, path.read_bytes())
    covered = {line for c in segment(doc) for line in range(c.line_start, c.line_end + 1)}
    rules = json.loads(gold.read_text())
    missed = [r["id"] for r in rules if not set(range(r["line_start"], r["line_end"] + 1)) <= covered]
    assert missed == []


def test_a_run_on_sentence_longer_than_a_quote_may_be_is_cut_at_spaces() -> None:
    words = " ".join(f"word{n}" for n in range(900))  # ~6,900 characters, no sentence end
    cut = words.index(" ", 3000)  # wrapped at a space, as editors wrap
    data = f"Intro.\n\n{words[:cut]}\n{words[cut + 1 :]}.\n".encode()
    pieces = candidates_of(data)[1:]
    assert all(len(p.quote) <= MAX_QUOTE_CHARS for p in pieces)
    assert " ".join(p.text for p in pieces) == collapse_whitespace(words + ".")
