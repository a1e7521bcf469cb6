import difflib
import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthgen.errors import LineRangeError
from synthgen.schemas.document import SourceDocument
from synthgen.schemas.items import Evidence
from synthgen.tools.evidence import (
    QuoteMatch,
    check_evidence,
    closest_line,
    collapse_whitespace,
    find_quote,
    lookup_lines,
    match_reworded_quote,
    numbered_lines,
    relocate,
    trim_to_verbatim,
    without_line_numbers,
)
from synthgen.tools.parser import parse_document
from synthgen.tools.repairs import anchor_evidence

REFUND_POLICY = b"""# Refunds

Refunds go to the original payment method.
Gift cards   are refunded
as store credit.

## Exchanges

Exchanges are free within 30 days.
Refunds go to the original payment method.
"""


@pytest.fixture(scope="module")
def doc() -> SourceDocument:
    return parse_document("refunds.md", REFUND_POLICY)


def evidence(start: int, end: int, quote: str) -> Evidence:
    return Evidence(line_start=start, line_end=end, quote=quote)


def test_lookup_lines_is_one_based_and_inclusive(doc: SourceDocument) -> None:
    assert lookup_lines(doc, 3, 5) == [
        "Refunds go to the original payment method.",
        "Gift cards   are refunded",
        "as store credit.",
    ]
    assert lookup_lines(doc, 10, 10) == ["Refunds go to the original payment method."]


@pytest.mark.parametrize(("start", "end"), [(0, 2), (9, 11), (5, 4)])
def test_lookup_lines_out_of_range_says_what_exists(doc: SourceDocument, start: int, end: int) -> None:
    with pytest.raises(LineRangeError) as raised:
        lookup_lines(doc, start, end)
    assert str(raised.value) == f"lines {start}-{end} do not exist in refunds.md: it has lines 1-10"


def test_numbered_lines_pad_numbers_to_the_widest(doc: SourceDocument) -> None:
    assert numbered_lines(doc, 8, 10).split("\n") == [
        " 8 | ",
        " 9 | Exchanges are free within 30 days.",
        "10 | Refunds go to the original payment method.",
    ]


def test_verbatim_quote_in_its_lines_passes(doc: SourceDocument) -> None:
    assert check_evidence(doc, evidence(9, 9, "free within 30 days")).ok


def test_quote_with_different_whitespace_passes(doc: SourceDocument) -> None:
    # Lines 4-5 read "Gift cards   are refunded" / "as store credit."
    check = check_evidence(doc, evidence(4, 5, "Gift cards are refunded as  store credit"))
    assert check.ok
    assert check.reason_code == ""


def test_quote_on_other_lines_names_every_place_it_is(doc: SourceDocument) -> None:
    check = check_evidence(doc, evidence(9, 9, "Refunds go to the original payment method."))
    assert not check.ok
    assert check.reason_code == "quote_elsewhere"
    assert check.matches == (QuoteMatch(3, 3, exact=True), QuoteMatch(10, 10, exact=True))
    assert check.message == "quote not found in line 9; it is on line 3, line 10: cite those lines"


def test_quote_elsewhere_across_lines_gives_the_span(doc: SourceDocument) -> None:
    check = check_evidence(doc, evidence(1, 2, "are refunded as store credit"))
    assert check.reason_code == "quote_elsewhere"
    assert check.matches == (QuoteMatch(4, 5, exact=False),)
    assert "it is on lines 4-5" in check.message


def test_quote_not_found_points_to_the_closest_line(doc: SourceDocument) -> None:
    check = check_evidence(doc, evidence(3, 3, "Exchanges are free within 60 days."))
    assert not check.ok
    assert check.reason_code == "quote_not_found"
    assert "closest match is line 9: 'Exchanges are free within 30 days.'" in check.message
    assert closest_line(doc, "Exchanges are free within 60 days.")[0] == 9


def test_cited_lines_beyond_the_end_are_line_out_of_range(doc: SourceDocument) -> None:
    check = check_evidence(doc, evidence(40, 42, "something never written"))
    assert check.reason_code == "line_out_of_range"
    assert "lines 40-42 do not exist (the document has lines 1-10)" in check.message


def test_a_real_quote_cited_beyond_the_end_is_elsewhere_not_out_of_range(doc: SourceDocument) -> None:
    check = check_evidence(doc, evidence(40, 40, "Exchanges are free"))
    assert check.reason_code == "quote_elsewhere"
    assert check.matches == (QuoteMatch(9, 9, exact=True),)


def test_a_blank_quote_grounds_nothing(doc: SourceDocument) -> None:
    check = check_evidence(doc, evidence(3, 3, "   "))
    assert not check.ok
    assert check.reason_code == "quote_not_found"


def test_find_quote_exact_and_whitespace_insensitive_multiline(doc: SourceDocument) -> None:
    assert find_quote(doc, "Exchanges are free") == [QuoteMatch(9, 9, exact=True)]
    assert find_quote(doc, "Gift cards   are refunded\nas store") == [QuoteMatch(4, 5, exact=True)]
    assert find_quote(doc, "gift cards are refunded") == []  # case matters
    assert find_quote(doc, "Gift cards are refunded as store credit.") == [QuoteMatch(4, 5, exact=False)]
    assert find_quote(doc, " \n ") == []


def test_find_quote_reports_overlapping_occurrences() -> None:
    doc = parse_document("a.md", b"yes\nyes\nyes\n")
    assert find_quote(doc, "yes\nyes") == [QuoteMatch(1, 2, exact=True), QuoteMatch(2, 3, exact=True)]


def test_relocate_moves_evidence_to_the_nearest_real_occurrence(doc: SourceDocument) -> None:
    quote = "Refunds go to the original payment method."  # on lines 3 and 10
    moved = relocate(evidence(8, 8, quote), check_evidence(doc, evidence(8, 8, quote)))
    assert moved == evidence(10, 10, quote)
    assert check_evidence(doc, moved).ok
    assert relocate(evidence(5, 5, quote), check_evidence(doc, evidence(5, 5, quote))) == evidence(3, 3, quote)


def test_relocate_refuses_what_it_cannot_place(doc: SourceDocument) -> None:
    good = evidence(9, 9, "Exchanges are free")
    missing = evidence(9, 9, "never said")
    assert relocate(good, check_evidence(doc, good)) is None
    assert relocate(missing, check_evidence(doc, missing)) is None


@pytest.fixture(scope="module")
def tau2(corpus_dir: Path) -> SourceDocument:
    path = corpus_dir / "tau2_retail_policy.md"
    return parse_document(path.name, path.read_bytes())


CANCEL_RULE = (  # line 88
    "An order can only be cancelled if its status is 'pending', and you should check its status before taking "
    "the action."
)


@pytest.mark.parametrize(
    ("quote", "lines", "ends_with"),
    [
        # Lines 88 and 90 (a blank line between), then words of the model's own.
        (
            CANCEL_RULE + " The user needs to confirm the order id and the reason (either 'no longer needed' or "
            "'ordered by mistake') for cancellation. The user will also get a coupon for the next order.",
            (88, 90),
            "for cancellation.",
        ),
        # Line 88's sentence, then line 120's, skipping everything between: every word is verbatim.
        (
            CANCEL_RULE + " The user needs to confirm the order id and the list of items to be returned.",
            (88, 88),
            CANCEL_RULE,
        ),
    ],
    ids=["drifts-into-own-words", "joins-distant-passages"],
)
def test_a_drifting_quote_is_cut_back_to_its_leading_verbatim_sentences(
    tau2: SourceDocument, quote: str, lines: tuple[int, int], ends_with: str
) -> None:
    cut = trim_to_verbatim(tau2, evidence(87, 120, quote))
    assert cut is not None
    assert (cut.line_start, cut.line_end) == lines
    assert cut.quote.endswith(ends_with) and quote.startswith(cut.quote)
    assert check_evidence(tau2, cut).ok


def test_trimming_refuses_quotes_mostly_in_the_models_own_words(doc: SourceDocument) -> None:
    mostly_invented = (
        "Exchanges are free within 30 days. Refunds go to the original payment method, unless the customer "
        "prefers a voucher, which we then send by post within a week of the request."
    )
    assert trim_to_verbatim(doc, evidence(9, 9, mostly_invented)) is None  # 12 verbatim words of 30
    invented = "Exchanges are free within 30 days, and every customer also receives a voucher worth ten euros today."
    assert trim_to_verbatim(doc, evidence(9, 9, invented)) is None  # 6 verbatim words of 18
    short = "Refunds go to the original payment method and never anywhere else."
    assert trim_to_verbatim(doc, evidence(3, 3, short)) is None  # 7 verbatim words: too few to ground anything
    nowhere = "Nothing in this sentence appears in the document at all, not one run of words."
    assert trim_to_verbatim(doc, evidence(3, 3, nowhere)) is None


def test_a_slightly_reworded_quote_becomes_the_words_of_the_line_it_rewords(tau2: SourceDocument) -> None:
    doc = tau2
    reworded = "The user needs to give the order id and the reason (either 'no longer needed' or 'ordered by mistake')"
    fixed = match_reworded_quote(doc, evidence(1, 136, reworded))
    assert fixed == evidence(
        90,
        90,
        "The user needs to confirm the order id and the reason (either 'no longer needed' or 'ordered by mistake",
    )
    assert check_evidence(doc, fixed).ok


def test_rewording_is_not_matched_when_too_loose_or_ambiguous(doc: SourceDocument) -> None:
    loose = "Refunds are always paid back to whichever card the customer used at the till."
    assert match_reworded_quote(doc, evidence(3, 3, loose)) is None
    repeated = parse_document("twice.md", b"Refunds always go to the original payment method of the order.\n" * 2)
    reworded = "Refunds always go back to the original payment method of the order."
    assert match_reworded_quote(repeated, evidence(1, 1, reworded)) is None  # line 1 or 2? not ours to guess
    single = parse_document("once.md", b"Refunds always go to the original payment method of the order.\n")
    assert match_reworded_quote(single, evidence(1, 1, reworded)) is not None


def test_line_number_prefixes_are_taken_out_of_every_line_of_a_quote() -> None:
    copied = evidence(9, 10, " 9 | Exchanges are free within 30 days.\n10 | Refunds go to the original payment method.")
    assert without_line_numbers(copied) == evidence(
        9, 10, "Exchanges are free within 30 days.\nRefunds go to the original payment method."
    )
    assert without_line_numbers(evidence(9, 9, "Exchanges are free")) is None  # nothing to take out
    assert without_line_numbers(evidence(9, 9, "9 | ")) is None  # nothing left


def test_a_document_line_that_itself_reads_like_a_number_prefix_is_quoted_as_is() -> None:
    table = parse_document("prices.md", b"Plan | Price\n12 | Basic tier\n")
    cited = evidence(2, 2, "12 | Basic tier")
    anchored = anchor_evidence(table, [cited], "policy 1")  # checked before any repair is tried
    assert (anchored.result, anchored.repairs, anchored.problems) == ([cited], {}, [])


def test_real_corpus_quote_spanning_a_list(corpus_dir: Path) -> None:
    path = corpus_dir / "tau2_retail_policy.md"
    doc = parse_document(path.name, path.read_bytes())
    quote = "There are three types of payment methods: **gift card**, **paypal account**, **credit card**."
    assert check_evidence(doc, evidence(39, 39, quote)).ok
    assert find_quote(doc, quote) == [QuoteMatch(39, 39, exact=True)]


WORDS = st.text(alphabet="abcxyz.,'-", min_size=1, max_size=6)
GAPS = st.sampled_from([" ", "  ", "\t", " \t "])


@st.composite
def documents(draw: st.DrawFn) -> SourceDocument:
    lines = draw(
        st.lists(
            st.lists(st.tuples(WORDS, GAPS), max_size=6).map(lambda pairs: "".join(w + g for w, g in pairs).rstrip()),
            min_size=1,
            max_size=12,
        )
    )
    lines[0] = lines[0] or "start"  # a document needs some text
    return parse_document("generated.md", "\n".join(lines).encode())


@settings(max_examples=150, deadline=None)
@given(doc=documents(), data=st.data())
def test_any_word_aligned_excerpt_cited_at_its_real_lines_passes(doc: SourceDocument, data: st.DataObject) -> None:
    joined = "\n".join(doc.lines)
    words = [match.span() for match in re.finditer(r"\S+", joined)]
    first = data.draw(st.integers(0, len(words) - 1))
    last = data.draw(st.integers(first, len(words) - 1))
    begin, end = words[first][0], words[last][1]
    quote = joined[begin:end]
    line_start, line_end = joined.count("\n", 0, begin) + 1, joined.count("\n", 0, end) + 1
    # Quoting with different whitespace must not matter either.
    for variant in (quote, collapse_whitespace(quote), " \n ".join(quote.split())):
        assert check_evidence(doc, evidence(line_start, line_end, variant)).ok
    assert QuoteMatch(line_start, line_end, exact=True) in find_quote(doc, quote)


def difflib_closest_line(doc: SourceDocument, text: str) -> tuple[int, float]:
    """closest_line's definition, without its pruning: difflib's ratio against every line, first line wins."""
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(collapse_whitespace(text))
    best, best_ratio = 1, -1.0
    for number, line in enumerate(doc.lines, 1):
        if collapse_whitespace(line):
            matcher.set_seq1(collapse_whitespace(line))
            if matcher.quick_ratio() > best_ratio and matcher.ratio() > best_ratio:
                best, best_ratio = number, matcher.ratio()
    return best, max(best_ratio, 0.0)


CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


@pytest.mark.parametrize("name", ["tau2_retail_policy.md", "github_acceptable_use.md", "mcp_tools_spec.md"])
def test_closest_line_finds_the_line_a_reworded_quote_came_from(name: str) -> None:
    doc = parse_document(name, (CORPUS / name).read_bytes())
    elsewhere = 0
    for number, line in enumerate(doc.lines, 1):
        words = line.split()
        if len(words) < 6:
            continue
        words[len(words) // 2] = "frobnicated"  # one word changed, as a model misquotes
        quote = " ".join(words)
        found, similarity = closest_line(doc, quote)
        if collapse_whitespace(doc.line(found)) != collapse_whitespace(line):
            # only a near-twin line that the changed word makes at least as close may be shown instead
            own = difflib.SequenceMatcher(None, collapse_whitespace(line), quote, autojunk=False).ratio()
            assert similarity >= own, (number, found)
            elsewhere += 1
    assert elsewhere <= 1


@pytest.mark.parametrize("name", ["tau2_retail_policy.md", "github_acceptable_use.md"])
def test_closest_line_prunes_without_changing_difflibs_answer(name: str) -> None:
    """Recorded retry messages name the closest line, so pruning may only skip lines that cannot win."""
    doc = parse_document(name, (CORPUS / name).read_bytes())
    words = " ".join(doc.lines).split()
    rng = random.Random(7)
    for _ in range(50):  # fragments of 1-30 words from anywhere, some glued from two places, some reworded
        start = rng.randrange(len(words))
        quote = words[start : start + rng.randint(1, 30)]
        if rng.random() < 0.3:
            other = rng.randrange(len(words))
            quote += words[other : other + rng.randint(1, 10)]
        if rng.random() < 0.5:
            quote[rng.randrange(len(quote))] = "frobnicated"
        assert closest_line(doc, " ".join(quote)) == difflib_closest_line(doc, " ".join(quote)), quote


def test_closest_line_shows_a_repeated_line_where_it_first_occurs(doc: SourceDocument) -> None:
    assert doc.line(3) == doc.line(10) == "Refunds go to the original payment method."
    assert closest_line(doc, "Refunds go to the original payment methods") == (3, pytest.approx(0.976, abs=0.001))


def test_closest_line_with_nothing_in_common_still_names_a_line(doc: SourceDocument) -> None:
    line, similarity = closest_line(doc, "§§§")
    assert (line, similarity) == (1, 0.0)


def test_the_search_index_follows_the_document_it_is_asked_about() -> None:
    first = parse_document("a.md", b"Refunds take 5 days.\nShipping is free.\n")
    second = parse_document("b.md", b"Shipping costs $5.\nRefunds take 5 days.\n")
    assert closest_line(first, "Refunds take 6 days.")[0] == 1
    assert closest_line(second, "Refunds take 6 days.")[0] == 2
    assert find_quote(second, "Shipping costs") == [QuoteMatch(1, 1, exact=True)]
    assert find_quote(first, "Shipping costs") == []
    assert find_quote(first, "Refunds take 5 days. Shipping is") == [QuoteMatch(1, 2, exact=False)]
    # a word the document never uses rules a quote out, but only between two other words
    assert find_quote(first, "take 5 days.\nShip") == [QuoteMatch(1, 2, exact=True)]
    assert find_quote(first, "Refunds take five days") == []
