import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthgen.schemas.document import SourceDocument, Window
from synthgen.tools.evidence import numbered_lines
from synthgen.tools.parser import parse_document
from synthgen.tools.windows import LineTooLong, estimate_tokens, section_windows


def document(*lines: str) -> SourceDocument:
    return parse_document("doc.md", "\n".join(lines).encode() + b"\n")


def spans(windows: list[Window]) -> list[tuple[int, int]]:
    return [(w.line_start, w.line_end) for w in windows]


def assert_valid_windows(doc: SourceDocument, windows: list[Window], max_tokens: int) -> None:
    """In order, no overlap, only blank lines left out, and within budget."""
    covered: list[int] = []
    for window in windows:
        assert window.line_start <= window.line_end <= doc.line_count
        covered.extend(range(window.line_start, window.line_end + 1))
        assert any(line.strip() for line in doc.lines[window.line_start - 1 : window.line_end])
        tokens = estimate_tokens(doc, window.line_start, window.line_end)
        assert tokens <= max_tokens, (window, tokens)
        assert window.heading_path in [[], *(s.heading_path for s in doc.sections)]
    assert covered == sorted(set(covered)), "windows overlap or are out of order"
    left_out = set(range(1, doc.line_count + 1)) - set(covered)
    assert all(not doc.line(number).strip() for number in left_out), "a line with text is in no window"


def test_a_document_that_fits_is_one_window() -> None:
    doc = document("Preamble before any heading.", "", "# Policy", "Rule one.", "## Detail", "Rule two.")
    assert section_windows(doc, 1000) == [Window(line_start=1, line_end=6, heading_path=["Policy"])]


def test_subsections_of_a_section_too_big_are_packed_separately() -> None:
    doc = document("# Top", "intro", "## A", "a" * 40, "a" * 40, "## B", "b" * 40, "b" * 40)
    budget = estimate_tokens(doc, 1, 5)
    assert budget < estimate_tokens(doc, 1, 8)
    assert section_windows(doc, budget) == [
        Window(line_start=1, line_end=5, heading_path=["Top"]),
        Window(line_start=6, line_end=8, heading_path=["Top", "B"]),
    ]


def test_top_level_sections_share_windows_while_they_fit() -> None:
    doc = document("# One", "x" * 30, "# Two", "y" * 30, "# Six", "z" * 30, "# Ten", "w" * 30)
    budget = estimate_tokens(doc, 1, 4)
    assert spans(section_windows(doc, budget)) == [(1, 4), (5, 8)]
    assert [w.heading_path for w in section_windows(doc, budget)] == [["One"], ["Six"]]


def test_a_section_without_subsections_splits_at_blank_lines() -> None:
    doc = document("# Only", "p1 " * 10, "p1 " * 10, "", "p2 " * 10, "p2 " * 10, "", "p3 " * 10, "p3 " * 10)
    windows = section_windows(doc, estimate_tokens(doc, 1, 4))
    assert spans(windows) == [(1, 4), (5, 7), (8, 9)]
    # Windows that continue a section still carry its headings.
    assert [w.heading_path for w in windows] == [["Only"], ["Only"], ["Only"]]


def test_a_paragraph_too_big_is_cut_hard_at_the_budget() -> None:
    doc = document(*(f"sentence {n} " * 5 for n in range(6)))
    windows = section_windows(doc, estimate_tokens(doc, 1, 2))
    assert spans(windows) == [(1, 2), (3, 4), (5, 6)]
    assert all(w.heading_path == [] for w in windows)


def test_a_line_longer_than_the_budget_refuses_the_document_naming_the_line() -> None:
    doc = document("short", "x" * 400, "short", "y" * 400)
    with pytest.raises(LineTooLong, match=r"^doc.md line 2 is about 102 tokens, more than one extraction window "
                       r"holds \(--window-tokens 20\): break the line up, or raise --window-tokens$"):  # fmt: skip
        section_windows(doc, 20)
    assert spans(section_windows(doc, 102)) == [(1, 1), (2, 2), (3, 3), (4, 4)]


def test_windows_of_only_blank_lines_are_dropped() -> None:
    doc = document("", "", "", "# Heading", "text " * 20)
    windows = section_windows(doc, estimate_tokens(doc, 4, 5))
    assert windows == [Window(line_start=4, line_end=5, heading_path=["Heading"])]


def test_the_estimate_covers_what_the_agent_reads() -> None:
    doc = document(*(f"line {n}" for n in range(1, 121)))
    for start, end in [(1, 120), (1, 9), (95, 120)]:
        shown = numbered_lines(doc, start, end)
        assert (
            math.ceil(len(shown) / 4) <= estimate_tokens(doc, start, end) <= math.ceil(len(shown) / 4) + end - start + 2
        )


def test_budget_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_tokens must be at least 1"):
        section_windows(document("# A"), 0)


LINES = st.one_of(
    st.sampled_from(["", "", "# Top", "## Part", "### Detail", "Setext", "----", "```", "- item"]),
    st.text(alphabet="abc #-", min_size=1, max_size=120),
)


@settings(max_examples=150, deadline=None)
@given(lines=st.lists(LINES, min_size=1, max_size=40), max_tokens=st.integers(1, 150))
def test_windows_cover_every_line_with_text_once(lines: list[str], max_tokens: int) -> None:
    lines[0] = lines[0].strip() or "text"
    doc = document(*lines)
    too_long = [n for n in range(1, doc.line_count + 1) if estimate_tokens(doc, n, n) > max_tokens]
    if too_long:
        with pytest.raises(LineTooLong, match=rf"^doc.md line {too_long[0]} is about"):
            section_windows(doc, max_tokens)
    else:
        assert_valid_windows(doc, section_windows(doc, max_tokens), max_tokens)


CORPUS_FILES = [
    "tau2_retail_policy.md",
    "github_acceptable_use.md",
    "mcp_tools_spec.md",
    "contoso_product_info_1.md",
    "openai_model_spec.md",
]


@pytest.mark.parametrize("name", CORPUS_FILES)
@pytest.mark.parametrize("max_tokens", [300, 1000, 4000])
def test_corpus_windows_are_valid(corpus_dir: Path, name: str, max_tokens: int) -> None:
    doc = parse_document(name, (corpus_dir / name).read_bytes())
    windows = section_windows(doc, max_tokens)
    assert_valid_windows(doc, windows, max_tokens)
    assert windows[0].line_start == 1  # front matter and preamble belong to the first window


def test_retail_policy_windows_start_at_section_headings(corpus_dir: Path) -> None:
    path = corpus_dir / "tau2_retail_policy.md"
    doc = parse_document(path.name, path.read_bytes())
    assert section_windows(doc, 600) == [
        Window(line_start=1, line_end=25, heading_path=["Retail agent policy"]),
        Window(line_start=26, line_end=85, heading_path=["Retail agent policy", "Domain basic"]),
        Window(line_start=86, line_end=115, heading_path=["Retail agent policy", "Cancel pending order"]),
        Window(line_start=116, line_end=136, heading_path=["Retail agent policy", "Return delivered order"]),
    ]
    assert section_windows(doc, 5000) == [Window(line_start=1, line_end=136, heading_path=["Retail agent policy"])]


def test_model_spec_windows_stay_within_budget(corpus_dir: Path) -> None:
    path = corpus_dir / "openai_model_spec.md"
    doc = parse_document(path.name, path.read_bytes())
    windows = section_windows(doc, 4000)
    total = estimate_tokens(doc, 1, doc.line_count)
    # Packing wastes little: not many more windows than the budget strictly needs.
    assert math.ceil(total / 4000) <= len(windows) <= 2 * math.ceil(total / 4000)
