import hashlib
from pathlib import Path

import pytest

from synthgen.errors import InputError
from synthgen.tools.parser import document_title, parse_document, split_lines


def sections_of(data: bytes) -> list[tuple[list[str], int, int, int]]:
    doc = parse_document("doc.md", data)
    return [(s.heading_path, s.level, s.line_start, s.line_end) for s in doc.sections]


@pytest.mark.parametrize(
    ("data", "lines", "ending"),
    [
        (b"# A\nbody\n", ["# A", "body"], "lf"),
        (b"# A\r\nbody\r\n", ["# A", "body"], "crlf"),
        (b"# A\r\nbody\nmore\r\n", ["# A", "body", "more"], "mixed"),
        (b"# A\nbody", ["# A", "body"], "lf"),
        (b"just one line", ["just one line"], "none"),
        (b"a\n\n", ["a", ""], "lf"),
    ],
)
def test_line_endings_count_one_line_each(data: bytes, lines: list[str], ending: str) -> None:
    doc = parse_document("doc.md", data)
    assert doc.lines == lines
    assert doc.line_ending == ending
    assert doc.line_count == len(lines)


def test_final_line_without_newline_still_counts() -> None:
    assert split_lines("one\ntwo") == (["one", "two"], "lf")
    assert split_lines("one\ntwo\n") == (["one", "two"], "lf")


def test_crlf_document_has_the_same_lines_and_sections_as_its_lf_twin() -> None:
    lf = b"# Title\n\nIntro.\n\n## Part\n\nBody.\n"
    crlf = lf.replace(b"\n", b"\r\n")
    assert parse_document("a.md", crlf).lines == parse_document("a.md", lf).lines
    assert sections_of(crlf) == sections_of(lf)


def test_bom_is_recorded_and_shifts_nothing() -> None:
    doc = parse_document("bom.md", b"\xef\xbb\xbf# Title\ntext\n")
    assert doc.encoding == "utf-8-sig"
    assert doc.lines == ["# Title", "text"]
    assert [(s.heading_path, s.line_start) for s in doc.sections] == [(["Title"], 1)]


def test_identity_comes_from_the_bytes() -> None:
    data = b"# T\nx\n"
    doc = parse_document("t.md", data)
    assert doc.sha256 == hashlib.sha256(data).hexdigest()
    assert doc.id == f"doc_{doc.sha256[:12]}"
    assert doc.path == "t.md"
    assert doc.encoding == "utf-8"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "is empty"),
        (b" \n\t\r\n  ", "contains only whitespace"),
        (b"# T\n\x00\x01binary", "contains NUL bytes"),
        (b"# T\ncaf\xe9\n", "not valid UTF-8 (bad byte at line 2)"),
    ],
)
def test_unusable_bytes_raise_input_error_naming_the_file(data: bytes, expected: str) -> None:
    with pytest.raises(InputError, match="^policy.md ") as raised:
        parse_document("policy.md", data)
    assert expected in str(raised.value)


def test_hash_inside_a_fenced_code_block_is_not_a_heading() -> None:
    data = b"# Real\n\n```bash\n# not a heading\n```\n\n## Also real\n"
    assert sections_of(data) == [(["Real"], 1, 1, 7), (["Real", "Also real"], 2, 7, 7)]


def test_setext_headings_start_at_their_text_line() -> None:
    data = b"Title\n=====\n\nIntro\n\nPart\n----\nbody\n"
    assert sections_of(data) == [(["Title"], 1, 1, 8), (["Title", "Part"], 2, 6, 8)]


def test_yaml_front_matter_is_not_a_heading() -> None:
    # Unblanked, "title: x" over "---" would read as a setext heading.
    data = b"---\ntitle: x\n---\n\n# Heading\ntext\n"
    assert sections_of(data) == [(["Heading"], 1, 5, 6)]


def test_bare_carriage_return_does_not_shift_heading_lines() -> None:
    # CommonMark counts a lone CR as a line break; the file's lines do not.
    data = b"a\rb\n# Heading\ntext\n"
    assert parse_document("cr.md", data).lines[0] == "a\rb"
    assert sections_of(data) == [(["Heading"], 1, 2, 3)]


def test_a_section_ends_before_the_next_heading_of_its_level_or_higher() -> None:
    data = b"# A\n## A1\n### A1a\ntext\n## A2\n# B\n"
    assert sections_of(data) == [
        (["A"], 1, 1, 5),
        (["A", "A1"], 2, 2, 4),
        (["A", "A1", "A1a"], 3, 3, 4),
        (["A", "A2"], 2, 5, 5),
        (["B"], 1, 6, 6),
    ]


def test_retail_policy_sections(corpus_dir: Path) -> None:
    path = corpus_dir / "tau2_retail_policy.md"
    doc = parse_document(path.name, path.read_bytes())
    assert doc.line_count == 136
    assert doc.line_ending == "lf"
    assert [(s.heading_path[-1], s.level, s.line_start, s.line_end) for s in doc.sections] == [
        ("Retail agent policy", 1, 1, 136),
        ("Domain basic", 2, 26, 79),
        ("User", 3, 30, 40),
        ("Product", 3, 41, 63),
        ("Order", 3, 64, 79),
        ("Generic action rules", 2, 80, 85),
        ("Cancel pending order", 2, 86, 93),
        ("Modify pending order", 2, 94, 115),
        ("Modify payment", 3, 100, 107),
        ("Modify items", 3, 108, 115),
        ("Return delivered order", 2, 116, 127),
        ("Exchange delivered order", 2, 128, 136),
    ]
    assert doc.sections[8].heading_path == ["Retail agent policy", "Modify pending order", "Modify payment"]
    assert all(doc.line(s.line_start).lstrip("#").strip() == s.heading_path[-1] for s in doc.sections)


@pytest.mark.parametrize(
    ("data", "title"),
    [
        (b"---\ntitle: 'Acceptable use'\nversions: 1\n---\n## 1. Rules\n", (2, "Acceptable use")),
        (b"Intro text.\n\n## Refunds\n\nBody.\n", (3, "Refunds")),
        (b"---\nauthor: me\n---\n# Policy\n", (4, "Policy")),
        (b"Just text, no heading.\n", None),
    ],
    ids=["front-matter", "first-heading", "front-matter-without-title", "none"],
)
def test_document_title_is_front_matter_title_else_first_heading(data: bytes, title: tuple[int, str] | None) -> None:
    doc = parse_document("doc.md", data)
    assert document_title(doc) == title
    if title is not None:
        assert title[1] in doc.line(title[0])  # a verbatim quote of its line
