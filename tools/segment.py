"""SourceDocument -> every candidate statement in it: sentences, list items, table rows, code blocks.

The code finds the statements; the extraction model only decides each one. A candidate's quote is
cut from the document's own lines, so its evidence verifies by construction.

Structure comes from a CommonMark parser (with GFM tables), never from regexes on raw markdown:
- a paragraph is split into sentences (a sentence may span wrapped lines);
- a list item's sentences carry the lead-in of their list: the last sentence of the paragraph just
  before the list, e.g. "We do not allow content that:"; a nested list's lead-in is its parent
  item, after the parent list's own lead-in;
- a table row (not the header) is one candidate, carrying the header row;
- a code block (fenced or indented) is one candidate, never split into sentences: usually an
  example, but a template can state a rule, so the model decides;
- text inside an HTML block (an MDX `<Warning>` around a rule) is read as paragraphs, its
  tag-only lines are not;
- headings, front matter, HTML comments and thematic breaks are not statements.

Sentences end at `.`, `!` or `?` (and any closing quote, bracket or emphasis marker) followed by
whitespace and a character that can start a sentence. A period does not end a sentence after a
known abbreviation ("e.g.", "etc." before a lowercase word, "Mr."), a dotted one ("U.S.", "a.m."),
or a single letter (an initial); a period inside a number ("$4.50") is not followed by whitespace.
"""

import re
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.token import Token

from synthgen.schemas.candidates import Candidate, CandidateKind
from synthgen.schemas.document import SourceDocument
from synthgen.schemas.items import MAX_QUOTE_CHARS
from synthgen.tools.evidence import collapse_whitespace
from synthgen.tools.parser import markdown_source

_MARKDOWN = MarkdownIt("commonmark").enable("table")

# Words that end with a period without ending the sentence. Dotted ones (e.g., i.e., U.S.) and
# single letters are recognised by shape, so they are not listed.
ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "cf", "no", "nos", "fig", "approx", "inc", "ltd", "co"}
)
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]*_`]*(?=\s+\S)")
_WORD_BEFORE = re.compile(r"([^\s(\[\"'“‘*_`]+)\.$")


# A quotation longer than this is taken for a stray quote mark: sentences split inside it again.
MAX_QUOTATION_CHARS = 300


def _open_quotation(text: str, end: int) -> int | None:
    """Where the quotation open at `end` began (None when none is): a period inside a quoted message
    ("send the message 'YOU ARE BEING TRANSFERRED. PLEASE HOLD ON.' to the user") ends no sentence.
    Straight double quotes toggle; curly ones open and close; a single quote opens after a space or
    an opening bracket and closes before one, so an apostrophe inside a word (user's) is neither."""
    opened: int | None = None
    for i, char in enumerate(text[:end]):
        before = text[i - 1] if i else " "
        after = text[i + 1] if i + 1 < len(text) else " "
        if char == '"':
            opened = None if opened is not None else i
        elif char in "“‘":
            opened = i
        elif char in "”’" and not (before.isalnum() and after.isalnum()):
            opened = None
        elif char == "'" and not (before.isalnum() and after.isalnum()):
            if opened is None and (before.isspace() or before in "([{") and not after.isspace():
                opened = i
            elif opened is not None and text[opened] == "'":
                opened = None
    return opened


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of each sentence of `text`, surrounding whitespace excluded."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        following = text[match.end() :].lstrip()
        if following[:1].islower() or following[:1] in ",;:":
            continue  # "e.g. the", "etc., and": the sentence goes on
        if match.group().startswith(".") and _is_abbreviation(text[: match.start() + 1]):
            continue
        opened = _open_quotation(text, match.end())
        if opened is not None and match.end() - opened <= MAX_QUOTATION_CHARS:
            continue
        spans.append((start, match.end()))
        start = match.end()
    spans.append((start, len(text)))
    return [span for span in (_trimmed(text, begin, end) for begin, end in spans) if span[0] < span[1]]


def _trimmed(text: str, begin: int, end: int) -> tuple[int, int]:
    """The span without the whitespace at either end."""
    while begin < end and text[begin].isspace():
        begin += 1
    while end > begin and text[end - 1].isspace():
        end -= 1
    return begin, end


def _is_abbreviation(text_to_period: str) -> bool:
    match = _WORD_BEFORE.search(text_to_period)
    if match is None:
        return False
    word = match.group(1)
    return word.casefold() in ABBREVIATIONS or "." in word or (len(word) == 1 and word.isalpha())


@dataclass(frozen=True)
class _Statement:
    kind: CandidateKind
    line_start: int
    column: int  # where the statement starts on its first line, to order two on one line
    line_end: int
    text: str
    quote: str
    lead_in: tuple[str, ...] = ()
    header: str | None = None


@dataclass
class _Container:
    """The document, a list item or a block quote: what a list's lead-in is looked for in."""

    in_list_item: bool
    lead_in: tuple[str, ...]  # of the list this item belongs to (inherited by a block quote)
    previous_sentence: str | None = None  # last sentence of the block just before, when a paragraph


@dataclass
class _Walk:
    doc: SourceDocument
    source_lines: list[str]  # the lines as the parser saw them (a bare CR read as a space)
    statements: list[_Statement] = field(default_factory=list)


def segment(doc: SourceDocument) -> list[Candidate]:
    """Every candidate statement of the document, in document order."""
    source = markdown_source(doc.lines)
    walk = _Walk(doc, source.split("\n"))
    tokens = _MARKDOWN.parse(source)
    containers = [_Container(in_list_item=False, lead_in=())]
    list_lead_ins: list[tuple[str, ...]] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        here = containers[-1]
        match token.type:
            case "bullet_list_open" | "ordered_list_open":
                lead = () if here.previous_sentence is None else (here.previous_sentence,)
                list_lead_ins.append(here.lead_in + lead)
                here.previous_sentence = None
            case "bullet_list_close" | "ordered_list_close":
                list_lead_ins.pop()
                here.previous_sentence = None
            case "list_item_open":
                containers.append(_Container(in_list_item=True, lead_in=list_lead_ins[-1]))
            case "blockquote_open":
                containers.append(_Container(in_list_item=here.in_list_item, lead_in=here.lead_in))
            case "list_item_close" | "blockquote_close":
                containers.pop()
                containers[-1].previous_sentence = None
            case "paragraph_open":
                assert token.map is not None
                sentences = _paragraph(walk, token.map[0], tokens[index + 1].content, here)
                here.previous_sentence = sentences[-1].text if sentences else None
                walk.statements.extend(sentences)
                index += 2  # the inline token and paragraph_close
            case "table_open":
                index = _table(walk, tokens, index, here)
                here.previous_sentence = None
            case "fence" | "code_block":
                code = _code(walk, token, here)
                walk.statements.extend(code)
                here.previous_sentence = None
            case "html_block" if token.content.lstrip().startswith("<!--"):
                pass  # a comment (e.g. a linter directive) does not separate a lead-in from its list
            case "html_block":
                walk.statements.extend(_html_text(walk, token, here))
                here.previous_sentence = None
            case "heading_open" | "hr":
                here.previous_sentence = None
        index += 1
    return _numbered(doc, walk.statements)


def _paragraph(walk: _Walk, first: int, content: str, here: _Container) -> list[_Statement]:
    """The sentences of a paragraph whose text (as the parser gives it) starts on 0-based line `first`."""
    # Where each content line starts in the source: the parser strips list markers, `>` and
    # indentation in front of it, and trailing whitespace after the last line.
    starts: list[int] = []  # offset in `content` of each content line
    columns: list[int] = []  # column in the source line where that content line starts
    offset = 0
    for number, piece in enumerate(content.split("\n")):
        source = walk.source_lines[first + number]
        column = source.rfind(piece) if piece else len(source)
        if column < 0:  # the parser rewrote the line (a tab expanded): start at its first character
            column = len(source) - len(source.lstrip())
        starts.append(offset)
        columns.append(column)
        offset += len(piece) + 1

    def position(at: int) -> tuple[int, int]:
        """(0-based line, column) in the source of character `at` of the content."""
        line = max(i for i, start in enumerate(starts) if start <= at)
        return first + line, columns[line] + at - starts[line]

    kind: CandidateKind = "list_item" if here.in_list_item else "sentence"
    statements = []
    spans = sentence_spans(content)
    while spans:
        begin, end = spans.pop(0)
        (line_a, col_a), (line_b, col_b) = position(begin), position(end - 1)
        lines = walk.doc.lines[line_a : line_b + 1]
        quote = (
            lines[0][col_a : col_b + 1]
            if line_a == line_b
            else "\n".join([lines[0][col_a:], *lines[1:-1], lines[-1][: col_b + 1]])
        )
        if len(quote) > MAX_QUOTE_CHARS:  # a run-on "sentence": halve it at a space until it fits
            half = (begin + end) // 2
            middle = next((at for at in range(half, begin, -1) if content[at].isspace()), half)
            spans[:0] = [_trimmed(content, begin, middle), _trimmed(content, middle, end)]
            continue
        statements.append(
            _Statement(
                kind=kind,
                line_start=line_a + 1,
                column=col_a,
                line_end=line_b + 1,
                text=collapse_whitespace(content[begin:end]),
                quote=quote,
                lead_in=here.lead_in if here.in_list_item else (),
            )
        )
    return statements


_TAG_LINE = re.compile(r"^\s*(?:</?[A-Za-z][^<>]*>\s*)+$")


def _html_text(walk: _Walk, token: Token, here: _Container) -> list[_Statement]:
    """The sentences in an HTML block: MDX documents wrap rules in components such as
    `<Warning>` ... `</Warning>` with no blank line, so the parser sees one HTML block. Lines that
    are only tags are markup; each run of other lines is read as a paragraph."""
    assert token.map is not None
    runs: list[list[int]] = [[]]
    for line in range(token.map[0], token.map[1]):
        text = walk.source_lines[line]
        if text.strip() and not _TAG_LINE.match(text):
            runs[-1].append(line)
        elif runs[-1]:
            runs.append([])
    return [
        statement
        for run in runs
        if run
        for statement in _paragraph(walk, run[0], "\n".join(walk.source_lines[n].strip() for n in run), here)
    ]


def _code(walk: _Walk, token: Token, here: _Container) -> list[_Statement]:
    """A code block is one candidate, never split into sentences: a template may state a rule
    ("# Do not include card digits"), and the sentence before it says what it is ("in this exact
    format:"). One longer than a quote may be is cut at line breaks into consecutive pieces."""
    assert token.map is not None
    # A fence's map includes its fence lines, and an unclosed fence runs to the end of its
    # container: count the content's own lines instead.
    first = token.map[0] + (1 if token.type == "fence" else 0)
    end = first + token.content.count("\n")
    lines = walk.doc.lines[first:end]
    while lines and not lines[-1].strip():
        lines.pop()
        end -= 1
    if not any(line.strip() for line in lines):
        return []
    lead = here.lead_in + (() if here.previous_sentence is None else (here.previous_sentence,))
    pieces: list[_Statement] = []
    start = 0
    while start < len(lines):
        stop = start + 1
        while stop < len(lines) and len("\n".join(lines[start : stop + 1]).strip()) <= MAX_QUOTE_CHARS:
            stop += 1
        quote = "\n".join(lines[start:stop]).strip()[:MAX_QUOTE_CHARS]  # one overlong line is cut
        if quote:
            pieces.append(
                _Statement(
                    kind="code",
                    line_start=first + start + 1,
                    column=len(lines[start]) - len(lines[start].lstrip()),
                    line_end=first + stop,
                    text="\n".join(line.rstrip() for line in lines[start:stop]).strip("\n"),
                    quote=quote,
                    lead_in=lead,
                )
            )
        start = stop
    return pieces


def _table(walk: _Walk, tokens: list[Token], index: int, here: _Container) -> int:
    """Add a candidate per body row; return the index of the table_close token."""
    header: str | None = None
    in_head = False
    while tokens[index].type != "table_close":
        token = tokens[index]
        if token.type == "thead_open":
            in_head = True
        elif token.type == "thead_close":
            in_head = False
        elif token.type == "tr_open" and token.map is not None:
            line = token.map[0]
            row = walk.doc.lines[line].strip()
            if in_head:
                header = collapse_whitespace(row)
            elif row.strip("|").strip():
                walk.statements.append(
                    _Statement(
                        kind="table_row",
                        line_start=line + 1,
                        column=walk.doc.lines[line].index(row[0]),
                        line_end=line + 1,
                        text=collapse_whitespace(row),
                        quote=row,
                        lead_in=here.lead_in if here.in_list_item else (),
                        header=header,
                    )
                )
        index += 1
    return index


def _numbered(doc: SourceDocument, statements: list[_Statement]) -> list[Candidate]:
    paths = _heading_path_by_line(doc)
    ordered = sorted(statements, key=lambda s: (s.line_start, s.column))
    candidates = []
    per_line: dict[int, int] = {}
    for statement in ordered:
        per_line[statement.line_start] = per_line.get(statement.line_start, 0) + 1
        candidates.append(
            Candidate(
                id=f"cand_{statement.line_start}_{per_line[statement.line_start]}",
                kind=statement.kind,
                line_start=statement.line_start,
                line_end=statement.line_end,
                heading_path=paths[statement.line_start - 1],
                text=statement.text,
                quote=statement.quote,
                lead_in=list(statement.lead_in),
                header=statement.header,
            )
        )
    return candidates


def _heading_path_by_line(doc: SourceDocument) -> list[list[str]]:
    """The heading path of the innermost section holding each line ([] before the first heading)."""
    paths: list[list[str]] = [[] for _ in doc.lines]
    for section in doc.sections:  # in document order, so a subsection overrides its parent
        for line in range(section.line_start, section.line_end + 1):
            paths[line - 1] = section.heading_path
    return paths
