"""Markdown bytes -> SourceDocument with exact line numbers and the heading tree.

Line numbers are those of the file as stored: LF and CRLF both end one line, a final line
without a newline still counts, and a UTF-8 BOM does not shift anything.
"""

import hashlib
import re

from markdown_it import MarkdownIt

from synthgen.errors import InputError
from synthgen.schemas.document import Section, SourceDocument

_MARKDOWN = MarkdownIt("commonmark")


def document_id(sha256: str) -> str:
    return f"doc_{sha256[:12]}"


def decode(label: str, data: bytes) -> tuple[str, str]:
    """Return (text, encoding) or raise InputError saying why the bytes are not a text document."""
    if not data:
        raise InputError(f"{label} is empty: give a markdown document with some text in it")
    if b"\x00" in data:
        raise InputError(f"{label} looks binary (it contains NUL bytes): give a UTF-8 markdown document")
    encoding = "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise InputError(f"{label} is not valid UTF-8 (bad byte at line {line}): re-save it as UTF-8") from None
    if not text.strip():
        raise InputError(f"{label} contains only whitespace: give a markdown document with some text in it")
    return text, encoding


def split_lines(text: str) -> tuple[list[str], str]:
    """Split on LF, dropping the CR of each CRLF; return (lines, line_ending)."""
    lines = text.split("\n")
    terminated = len(lines) - 1  # lines that end with a newline
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line does not start another
    crlf = 0
    for index in range(terminated):
        if lines[index].endswith("\r"):
            lines[index] = lines[index][:-1]
            crlf += 1
    if terminated == 0:
        ending = "none"
    elif crlf == 0:
        ending = "lf"
    elif crlf == terminated:
        ending = "crlf"
    else:
        ending = "mixed"
    return lines, ending


def _front_matter_end(lines: list[str]) -> int:
    """Number of leading lines that form a YAML front-matter block (0 if none)."""
    if not lines or lines[0].strip() != "---":
        return 0
    for index in range(1, len(lines)):
        if lines[index].strip() in ("---", "..."):
            return index + 1
    return 0


_TITLE_FIELD = re.compile(r"^title:\s*(?P<q>['\"]?)(?P<title>.+?)(?P=q)\s*$")


def document_title(doc: SourceDocument) -> tuple[int, str] | None:
    """The document's title and its line: front matter's `title:`, else the first heading."""
    for index in range(1, _front_matter_end(doc.lines) - 1):
        match = _TITLE_FIELD.match(doc.lines[index])
        if match:
            return index + 1, match["title"]
    if doc.sections:
        line = doc.sections[0].line_start
        title = doc.line(line).strip().lstrip("#").strip()
        if title:
            return line, title
    return None


def markdown_source(lines: list[str]) -> str:
    """The text a markdown parser reads: line i of its token map is line i + 1 of the file."""
    skip = _front_matter_end(lines)
    # Blank the front matter instead of removing it, so the parser's line map stays the file's.
    # A bare CR is not a line break here but CommonMark counts it as one: hide it from the parser.
    return "\n".join([""] * skip + lines[skip:]).replace("\r", " ")


def build_sections(lines: list[str]) -> list[Section]:
    """Headings found by a CommonMark parser, so a `#` inside a code fence is not a heading."""
    tokens = _MARKDOWN.parse(markdown_source(lines))
    headings: list[tuple[int, int, str]] = []  # (level, first line, title)
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.map is not None:
            title = tokens[index + 1].content.strip() if index + 1 < len(tokens) else ""
            headings.append((int(token.tag[1:]), token.map[0] + 1, title))
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    for position, (level, start, title) in enumerate(headings):
        end = len(lines)
        for later_level, later_start, _ in headings[position + 1 :]:
            if later_level <= level:
                end = later_start - 1
                break
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, title))
        sections.append(
            Section(heading_path=[t for _, t in path], level=level, line_start=start, line_end=max(start, end))
        )
    return sections


def parse_document(label: str, data: bytes) -> SourceDocument:
    """Parse the bytes of a markdown file; `label` is the path shown in messages and the manifest."""
    text, encoding = decode(label, data)
    if encoding == "utf-8-sig":
        text = text.removeprefix("\ufeff")
    lines, ending = split_lines(text)
    sha256 = hashlib.sha256(data).hexdigest()
    return SourceDocument(
        id=document_id(sha256),
        path=label,
        sha256=sha256,
        encoding=encoding,
        line_ending=ending,
        lines=lines,
        sections=build_sections(lines),
    )
