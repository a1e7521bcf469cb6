"""Split a document into windows of whole lines, each small enough for one extraction call.

Structure decides where windows end: consecutive top-level sections share a window while they
fit; a section too big for one is split at its sub-sections, a span without sub-sections at
blank lines, and a paragraph that still does not fit hard at the budget. A single line longer
than the budget cannot be cut without losing its line number (evidence cites whole lines), so a
document that has one is refused, naming the line, before any model call.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate, pairwise

from synthgen.errors import InputError
from synthgen.schemas.document import Section, SourceDocument, Window

CHARS_PER_TOKEN = 4
_PREFIX_PUNCTUATION = len(" | ")  # after the number, see evidence.numbered_lines


class LineTooLong(InputError):
    """One line of the document is over the window budget on its own."""


@dataclass(frozen=True)
class _Span:
    start: int  # first line, 1-based
    end: int  # last line, inclusive


class _TokenEstimate:
    """Token estimate of any line span in O(1), from prefix sums of characters per line.

    A line costs its text, its newline and the widest "NNN | " prefix the document can need,
    so the estimate never falls below that of the text the agent really reads.
    """

    def __init__(self, doc: SourceDocument) -> None:
        prefix = len(str(doc.line_count)) + _PREFIX_PUNCTUATION
        self._before = [0, *accumulate(len(line) + 1 + prefix for line in doc.lines)]

    def tokens(self, span: _Span) -> int:
        chars = self._before[span.end] - self._before[span.start - 1]
        return -(-chars // CHARS_PER_TOKEN)


def estimate_tokens(doc: SourceDocument, line_start: int, line_end: int) -> int:
    """Estimated tokens of lines line_start..line_end as the agents see them, with line numbers."""
    return _TokenEstimate(doc).tokens(_Span(line_start, line_end))


def section_windows(doc: SourceDocument, max_tokens: int) -> list[Window]:
    """Windows in document order that together hold every non-blank line exactly once.

    Windows do not overlap and leave no gaps, except that a window of nothing but blank lines
    is dropped.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    splitter = _Splitter(doc, max_tokens)
    too_long = next((n for n in range(1, doc.line_count + 1) if not splitter.fits(_Span(n, n))), None)
    if too_long is not None:
        raise LineTooLong(
            f"{doc.path} line {too_long} is about {splitter.estimate.tokens(_Span(too_long, too_long)):,} tokens, "
            f"more than one extraction window holds (--window-tokens {max_tokens:,}): break the line up, or raise "
            "--window-tokens"
        )
    spans = splitter.pack(splitter.pieces(_Span(1, doc.line_count)))
    return [
        Window(line_start=span.start, line_end=span.end, heading_path=_heading_path(doc.sections, span))
        for span in spans
        if any(line.strip() for line in doc.lines[span.start - 1 : span.end])
    ]


class _Splitter:
    def __init__(self, doc: SourceDocument, max_tokens: int) -> None:
        self.doc = doc
        self.max_tokens = max_tokens
        self.estimate = _TokenEstimate(doc)

    def fits(self, span: _Span) -> bool:
        return self.estimate.tokens(span) <= self.max_tokens

    def pieces(self, span: _Span) -> Iterator[_Span]:
        """Consecutive spans covering `span`, each within budget (no line is over it on its own)."""
        if self.fits(span):
            yield span
            return
        parts = _split_at(span, [section.line_start for section in self._outermost_sections(span)])
        if len(parts) == 1:
            parts = _split_at(span, self._paragraph_starts(span))
        if len(parts) == 1:
            yield from self._hard_split(span)
            return
        for part in parts:
            yield from self.pieces(part)

    def pack(self, pieces: Iterator[_Span]) -> list[_Span]:
        """Merge consecutive pieces greedily while the merged span fits."""
        packed: list[_Span] = []
        for piece in pieces:
            if packed and self.fits(merged := _Span(packed[-1].start, piece.end)):
                packed[-1] = merged
            else:
                packed.append(piece)
        return packed

    def _outermost_sections(self, span: _Span) -> list[Section]:
        """Sections starting after the first line of `span` that no other such section contains."""
        outermost: list[Section] = []
        for section in self.doc.sections:
            if span.start < section.line_start <= span.end and (
                not outermost or section.line_start > outermost[-1].line_end
            ):
                outermost.append(section)
        return outermost

    def _paragraph_starts(self, span: _Span) -> list[int]:
        """First lines of the paragraphs in `span`; blank lines stay with the text before them."""
        lines = self.doc.lines
        return [
            number
            for number in range(span.start + 1, span.end + 1)
            if lines[number - 1].strip() and not lines[number - 2].strip()
        ]

    def _hard_split(self, span: _Span) -> Iterator[_Span]:
        start = span.start
        for number in range(span.start + 1, span.end + 1):
            if not self.fits(_Span(start, number)):
                yield _Span(start, number - 1)
                start = number
        yield _Span(start, span.end)


def _split_at(span: _Span, starts: list[int]) -> list[_Span]:
    """`span` cut before each line in `starts` (all inside it, ascending)."""
    bounds = [span.start, *starts, span.end + 1]
    return [_Span(first, following - 1) for first, following in pairwise(bounds)]


def _heading_path(sections: list[Section], span: _Span) -> list[str]:
    """Headings of the first section starting in the window, else of the innermost one around it.

    A window that continues a long section still tells the extraction agent where it is.
    """
    around: Section | None = None
    for section in sections:
        if span.start <= section.line_start <= span.end:
            return section.heading_path
        if section.line_start <= span.start <= section.line_end:
            around = section
    return around.heading_path if around else []
