"""Line lookup, the evidence checker and the quote finder.

Evidence rule: the quote, with runs of whitespace collapsed, must occur in the cited lines
joined with newlines and collapsed the same way.
"""

import bisect
import difflib
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import rapidfuzz

from synthgen.errors import LineRangeError
from synthgen.schemas.document import SourceDocument
from synthgen.schemas.items import Evidence

_WHITESPACE = re.compile(r"\s+")


def collapse_whitespace(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


def lookup_lines(doc: SourceDocument, start: int, end: int) -> list[str]:
    """Lines start..end (1-based, inclusive) of the document."""
    if start < 1 or end < start or end > doc.line_count:
        raise LineRangeError(f"lines {start}-{end} do not exist in {doc.path}: it has lines 1-{doc.line_count}")
    return doc.lines[start - 1 : end]


def numbered_lines(doc: SourceDocument, start: int, end: int) -> str:
    """Lines prefixed with their numbers, as the agents see them."""
    width = len(str(end))
    return "\n".join(f"{n:>{width}} | {text}" for n, text in enumerate(lookup_lines(doc, start, end), start))


# The "NN | " prefix `numbered_lines` puts before each line, as a model copies it into a quote.
LINE_NUMBER_PREFIX = re.compile(r"^ *\d+ \| ", re.MULTILINE)


def without_line_numbers(evidence: Evidence) -> Evidence | None:
    """The evidence with the "NN | " prefixes a model copied from its numbered view taken out
    (None when there are none, or nothing else)."""
    quote = LINE_NUMBER_PREFIX.sub("", evidence.quote)
    if quote == evidence.quote or not quote.strip():
        return None
    return evidence.model_copy(update={"quote": quote})


@dataclass(frozen=True)
class QuoteMatch:
    line_start: int
    line_end: int
    exact: bool  # True when the quote occurs verbatim, False when only after collapsing whitespace


def _line_of_offsets(lines: list[str]) -> list[int]:
    """Start offset of each line in the newline-joined text."""
    offsets, position = [], 0
    for line in lines:
        offsets.append(position)
        position += len(line) + 1
    return offsets


def _line_at(offsets: list[int], offset: int) -> int:
    """1-based line number that contains character `offset` of the joined text."""
    low, high = 0, len(offsets) - 1
    while low < high:
        middle = (low + high + 1) // 2
        if offsets[middle] <= offset:
            low = middle
        else:
            high = middle - 1
    return low + 1


def _collapsed_with_lines(lines: list[str]) -> tuple[str, list[int]]:
    """The whitespace-collapsed text of `lines` and, per character, the 1-based line it came from."""
    chars: list[str] = []
    origin: list[int] = []
    for number, line in enumerate(lines, 1):
        for word in line.split():
            if chars:
                chars.append(" ")
                origin.append(number)
            chars.extend(word)
            origin.extend([number] * len(word))
    return "".join(chars), origin


def find_quote(doc: SourceDocument, text: str) -> list[QuoteMatch]:
    """Every place the quote occurs: verbatim matches if any, else whitespace-insensitive ones."""
    if not text.strip():
        return []
    index = _line_index(doc)
    # Whitespace bounds every word of a quote but its first and last, so each of those is a whole
    # word of the document wherever the quote occurs, verbatim or whitespace-collapsed: one word the
    # document never uses (a model's rewording) rules out both searches of the whole text.
    if not index.words.issuperset(text.split()[1:-1]):
        return []
    exact = [
        QuoteMatch(_line_at(index.offsets, start), _line_at(index.offsets, start + len(text) - 1), exact=True)
        for start in _occurrences(index.joined, text)
    ]
    if exact:
        return exact
    needle = collapse_whitespace(text)
    return [
        QuoteMatch(index.origin[start], index.origin[start + len(needle) - 1], exact=False)
        for start in _occurrences(index.collapsed, needle)
    ]


def _occurrences(haystack: str, needle: str) -> Iterator[int]:
    """Start of every occurrence, overlapping ones included ("aa" occurs twice in "aaa")."""
    start = haystack.find(needle)
    while start != -1:
        yield start
        start = haystack.find(needle, start + 1)


def closest_line(doc: SourceDocument, text: str) -> tuple[int, float]:
    """The line most similar to `text` and its similarity (0..1), for hints in retry messages.

    Similarity is difflib's ratio between the whitespace-collapsed line and text; the first line
    wins a tie. The answer is part of recorded retry messages, so it must not change, but scoring
    every line with difflib took ~100 ms per call on a 4,692-line document. rapidfuzz's Indel
    similarity, 2 * (longest common subsequence) / (total length), computed in C++, is an upper
    bound of difflib's ratio (its matching blocks are one common subsequence), so difflib only
    scores lines in decreasing order of that bound until the bound falls below the best ratio
    found. The line sharing most of the quote's rarer words is scored first, and a line whose length
    alone keeps it below its ratio (a line of length m scores at most 2 * min(n, m) / (n + m)
    against a quote of length n) is not looked at.
    """
    index = _line_index(doc)
    if not index.choices:
        return 1, 0.0
    needle = collapse_whitespace(text)
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(needle)
    ratios: dict[int, float] = {}  # choice -> difflib ratio

    def ratio(choice: int) -> float:
        if choice not in ratios:
            matcher.set_seq1(index.choices[choice])
            ratios[choice] = matcher.ratio()
        return ratios[choice]

    seed = _sharing_most_rare_words(index, needle)
    best = 0.0 if seed is None else ratio(seed)
    # Every line that can reach `best`, by length then by its bound, best bound first.
    n, floor = len(needle), max(best - _BOUND_SLACK, 0.0)
    low, high = 0, len(index.lengths)
    if floor > 0:
        low = bisect.bisect_left(index.lengths, math.floor(n * floor / (2 - floor)))
        high = bisect.bisect_right(index.lengths, math.ceil(n * (2 - floor) / floor))
    by_length = index.by_length[low:high]
    bounded = rapidfuzz.process.extract(
        needle,
        [index.choices[choice] for choice in by_length],
        scorer=rapidfuzz.fuzz.ratio,
        score_cutoff=floor * 100,
        limit=None,
    )
    for _, bound, position in bounded:
        if bound / 100 < best - _BOUND_SLACK:
            break  # this line and all after it score below the best already found
        choice = by_length[position]
        matcher.set_seq1(index.choices[choice])
        if choice in ratios or matcher.real_quick_ratio() < best or matcher.quick_ratio() < best:
            continue
        best = max(best, ratio(choice))
    if not ratios or best <= 0:
        return index.numbers[0], 0.0
    return min(index.numbers[choice] for choice, value in ratios.items() if value == best), best


# rapidfuzz's scores and cutoffs are rounded differently from difflib's ratio: a bound exactly at
# the best ratio must never be cut off, so every comparison with a bound leaves this much room.
_BOUND_SLACK = 0.01
# Words on more lines than this are too common to point at the quote's line.
_RARE_WORD_LINES = 50


def _sharing_most_rare_words(index: "_LineIndex", needle: str) -> int | None:
    """The line sharing most of the needle's rarer words (the first of equals), if any."""
    shared: Counter[int] = Counter()
    for word in set(needle.split()):
        lines = index.lines_with_word.get(word, ())
        if len(lines) <= _RARE_WORD_LINES:
            shared.update(lines)
    if not shared:
        return None
    most = max(shared.values())
    return min(choice for choice, count in shared.items() if count == most)


@dataclass(frozen=True)
class _LineIndex:
    """What the quote finder and closest_line search, built once per document."""

    joined: str  # the lines joined with newlines
    offsets: list[int]  # where each line starts in `joined`
    collapsed: str  # the whitespace-collapsed text
    origin: list[int]  # per character of `collapsed`, the 1-based line it came from
    words: frozenset[str]  # every whitespace-separated word of the document
    choices: list[str]  # each distinct non-blank line, whitespace collapsed, in document order
    numbers: list[int]  # the line each choice first occurs on
    by_length: list[int]  # choices ordered by length (then line)
    lengths: list[int]  # their lengths, ascending
    lines_with_word: dict[str, list[int]]  # word -> the choices that hold it


# Indexes of the last few documents, by the identity of their `lines` list (a SourceDocument is
# never changed after parsing). Keeping the list referenced keeps its id from being reused.
_INDEXES: dict[int, tuple[list[str], _LineIndex]] = {}
_INDEXES_KEPT = 8


def _line_index(doc: SourceDocument) -> _LineIndex:
    cached = _INDEXES.get(id(doc.lines))
    if cached is not None and cached[0] is doc.lines:
        return cached[1]
    first_line: dict[str, int] = {}
    for number, line in enumerate(doc.lines, 1):
        collapsed_line = collapse_whitespace(line)
        if collapsed_line:
            first_line.setdefault(collapsed_line, number)
    choices = list(first_line)
    by_length = sorted(range(len(choices)), key=lambda choice: len(choices[choice]))  # stable: line order kept
    lines_with_word: dict[str, list[int]] = {}
    for choice, line in enumerate(choices):
        for word in set(line.split()):
            lines_with_word.setdefault(word, []).append(choice)
    collapsed, origin = _collapsed_with_lines(doc.lines)
    index = _LineIndex(
        joined="\n".join(doc.lines),
        offsets=_line_of_offsets(doc.lines),
        collapsed=collapsed,
        origin=origin,
        words=frozenset(word for line in doc.lines for word in line.split()),
        choices=choices,
        numbers=list(first_line.values()),
        by_length=by_length,
        lengths=[len(choices[choice]) for choice in by_length],
        lines_with_word=lines_with_word,
    )
    while len(_INDEXES) >= _INDEXES_KEPT:
        del _INDEXES[next(iter(_INDEXES))]
    _INDEXES[id(doc.lines)] = (doc.lines, index)
    return index


@dataclass(frozen=True)
class EvidenceCheck:
    ok: bool
    reason_code: str = ""  # line_out_of_range | quote_elsewhere | quote_not_found
    message: str = ""
    matches: tuple[QuoteMatch, ...] = ()  # where the quote really is, when it is elsewhere


def excerpt(text: str, limit: int = 90) -> str:
    """`text` on one line, cut to `limit` characters: enough to recognise it in a message."""
    text = collapse_whitespace(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_evidence(doc: SourceDocument, evidence: Evidence) -> EvidenceCheck:
    """Apply the evidence rule; on failure say precisely what is wrong and where the quote is."""
    start, end = evidence.line_start, evidence.line_end
    if not collapse_whitespace(evidence.quote):
        # A blank quote occurs everywhere, so it grounds nothing.
        return EvidenceCheck(
            False, "quote_not_found", "the quote is blank: copy the words that support the item verbatim"
        )
    in_range = end <= doc.line_count
    if in_range and collapse_whitespace(evidence.quote) in collapse_whitespace("\n".join(doc.lines[start - 1 : end])):
        return EvidenceCheck(True)
    span = f"line {start}" if start == end else f"lines {start}-{end}"
    matches = tuple(find_quote(doc, evidence.quote))
    if matches:
        where = ", ".join(
            f"line {m.line_start}" if m.line_start == m.line_end else f"lines {m.line_start}-{m.line_end}"
            for m in matches[:3]
        )
        return EvidenceCheck(
            False,
            "quote_elsewhere",
            f"quote not found in {span}; it is on {where}: cite those lines",
            matches,
        )
    if not in_range:
        return EvidenceCheck(
            False,
            "line_out_of_range",
            f"lines {start}-{end} do not exist (the document has lines 1-{doc.line_count}) "
            f"and the quote {excerpt(evidence.quote)!r} is nowhere in it. Copy the quote verbatim",
        )
    line, _ = closest_line(doc, evidence.quote)
    return EvidenceCheck(
        False,
        "quote_not_found",
        f"quote {excerpt(evidence.quote)!r} is not in {span} nor anywhere in the document; "
        f"closest match is line {line}: {excerpt(doc.line(line))!r}. Copy the quote verbatim",
    )


def relocate(evidence: Evidence, check: EvidenceCheck) -> Evidence | None:
    """The evidence re-anchored to where its quote really is, when that place is unambiguous."""
    if check.reason_code != "quote_elsewhere" or not check.matches:
        return None
    nearest = min(check.matches, key=lambda m: abs(m.line_start - evidence.line_start))
    return Evidence(line_start=nearest.line_start, line_end=nearest.line_end, quote=evidence.quote)


# A shorter verbatim run is too weak to ground an item.
MIN_TRIMMED_QUOTE_WORDS = 8
_SENTENCE_END = re.compile(r"(?<=[.!?:;])\s+")


def trim_to_verbatim(doc: SourceDocument, evidence: Evidence) -> Evidence | None:
    """The evidence cut back to the longest run of leading words the document holds verbatim.

    Small models often start a quote on the right passage and then drift: they join the next
    paragraph, skip one, or finish the sentence in their own words. The words before the drift are
    the passage they meant; keeping them (re-anchored to their lines) grounds the item honestly.
    A quote mostly in the model's own words (less than half of its words verbatim, counting whole
    sentences found anywhere) is not repaired: that goes back to the model.
    """
    words = collapse_whitespace(evidence.quote).split(" ")
    found, missing = 0, len(words) + 1  # the longest prefix found has between found and missing words
    while missing - found > 1:  # a prefix of a found prefix is found too, so bisect on the length
        middle = (found + missing) // 2
        if find_quote(doc, " ".join(words[:middle])):
            found = middle
        else:
            missing = middle
    if found >= len(words) or found < MIN_TRIMMED_QUOTE_WORDS:
        return None
    sentences = _SENTENCE_END.split(" ".join(words))
    verbatim = sum(len(sentence.split(" ")) for sentence in sentences if find_quote(doc, sentence))
    if max(found, verbatim) * 2 < len(words):
        return None
    # End on the last whole sentence when that is long enough: the words after it are the start of
    # a passage the model did not quote.
    ends = [n for n in range(MIN_TRIMMED_QUOTE_WORDS, found + 1) if words[n - 1].endswith((".", "!", "?"))]
    quote = " ".join(words[: ends[-1] if ends else found])
    nearest = min(find_quote(doc, quote), key=lambda m: abs(m.line_start - evidence.line_start))
    return Evidence(line_start=nearest.line_start, line_end=nearest.line_end, quote=quote)


# Share of a quote's words a line must hold, in order, for the quote to be that line reworded.
MIN_REWORDED_SHARE = 0.8
_WORD = re.compile(r"[^\W_]+")


def match_reworded_quote(doc: SourceDocument, evidence: Evidence) -> Evidence | None:
    """The document's own words for a quote the model reworded slightly, from the one line it rewords.

    Small models "quote" a line with a word swapped ("The system must ..." for "The assistant
    MUST ..."). When one line holds at least 80 % of the quote's words in order, and no other line
    does as well, the evidence becomes that line's span from the first to the last matched word:
    verbatim, at its real line, and checked like any other quote.
    """
    words = [word.casefold() for word in _WORD.findall(evidence.quote)]
    if len(words) < MIN_TRIMMED_QUOTE_WORDS:
        return None
    scored: list[tuple[int, int, int, int]] = []  # (matched words, line, span start, span end)
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(words)
    for number, line in enumerate(doc.lines, 1):
        tokens = list(_WORD.finditer(line))
        if len(tokens) < len(words) * MIN_REWORDED_SHARE:  # too short to hold enough of the quote
            continue
        matcher.set_seq1([token.group().casefold() for token in tokens])
        blocks = [block for block in matcher.get_matching_blocks() if block.size]
        matched = sum(block.size for block in blocks)
        if matched >= len(words) * MIN_REWORDED_SHARE:
            first, last = tokens[blocks[0].a], tokens[blocks[-1].a + blocks[-1].size - 1]
            scored.append((matched, number, first.start(), last.end()))
    scored.sort(reverse=True)
    if not scored or (len(scored) > 1 and scored[1][0] == scored[0][0]):
        return None  # nothing close enough, or two lines equally close: the model must say which
    _, number, start, end = scored[0]
    return Evidence(line_start=number, line_end=number, quote=doc.line(number)[start:end])
