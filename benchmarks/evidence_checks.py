"""Evidence checks on the largest corpus document, against the difflib implementation measured in the same run.

    .venv/bin/python benchmarks/evidence_checks.py [DOCUMENT] [OLD_SAMPLE]

10,000 quotes that verify and 1,000 that do not (a line with one word replaced, so the checker
searches the whole document and then looks for the closest line for its retry hint), all seeded.
The targets (issue 14): each batch in <= 0.5 s on openai_model_spec.md (4,692 lines).

The old implementation (difflib's SequenceMatcher over every line, and the quote finder rebuilding
the document's joined and collapsed text on every call) takes a tenth of a second or more per
failing check there, so it runs on the first OLD_SAMPLE failing quotes (default 30) and its time
per check is scaled to the batch; the ratio is per check, both measured here.

The closest line must stay difflib's (retry messages that name it are recorded in the cassettes),
so the new closest_line still runs difflib, on the few lines rapidfuzz's bound cannot rule out. A
quote that is a short part of a long line scores low against it, hundreds of lines are then
within the bound, and those checks stay slow: the last line prints what rapidfuzz's similarity
alone, without difflib, would take and how often it would name another line.
"""

import difflib
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import rapidfuzz

from synthgen.schemas.document import SourceDocument
from synthgen.schemas.items import Evidence
from synthgen.tools import evidence
from synthgen.tools.parser import parse_document

DEFAULT_DOCUMENT = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "openai_model_spec.md"


def difflib_closest_line(doc: SourceDocument, text: str) -> tuple[int, float]:
    """closest_line as it was: difflib's ratio against every line, with its quick upper bounds."""
    needle = evidence.collapse_whitespace(text)
    best, best_ratio = 1, -1.0
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(needle)
    for number, line in enumerate(doc.lines, 1):
        candidate = evidence.collapse_whitespace(line)
        if not candidate:
            continue
        matcher.set_seq1(candidate)
        if matcher.real_quick_ratio() <= best_ratio or matcher.quick_ratio() <= best_ratio:
            continue
        ratio = matcher.ratio()
        if ratio > best_ratio:
            best, best_ratio = number, ratio
    return best, max(best_ratio, 0.0)


def uncached_line_index(doc: SourceDocument) -> object:
    """The quote finder as it was: the document's joined and collapsed text rebuilt on every call."""
    evidence._INDEXES.clear()
    return build_line_index(doc)


build_line_index = evidence._line_index


def quotes(doc: SourceDocument, seed: int = 42) -> tuple[list[Evidence], list[Evidence]]:
    rng = random.Random(seed)
    lines = [(number, line) for number, line in enumerate(doc.lines, 1) if len(line.split()) >= 6]
    passing = []
    for _ in range(10_000):
        number, line = rng.choice(lines)
        words = line.split()
        start = rng.randrange(len(words) - 3)
        quote = " ".join(words[start : start + rng.randint(3, 20)])
        passing.append(Evidence(line_start=number, line_end=number, quote=quote))
    failing = []
    for _ in range(1_000):
        number, line = rng.choice(lines)
        words = line.split()
        start = rng.randrange(len(words) - 5)
        words = words[start : start + rng.randint(6, 30)]  # a sentence or so, as models quote
        words[rng.randrange(len(words))] = "frobnicated"  # with one word of their own
        failing.append(Evidence(line_start=number, line_end=number, quote=" ".join(words)))
    return passing, failing


def timed(checks: list[Evidence], doc: SourceDocument) -> tuple[float, list[evidence.EvidenceCheck]]:
    seconds, results = each_timed(checks, doc)
    return sum(seconds), results


def each_timed(checks: list[Evidence], doc: SourceDocument) -> tuple[list[float], list[evidence.EvidenceCheck]]:
    seconds, results = [], []
    for e in checks:
        start = time.perf_counter()
        results.append(evidence.check_evidence(doc, e))
        seconds.append(time.perf_counter() - start)
    return seconds, results


def closest_lines(results: list[evidence.EvidenceCheck]) -> list[str]:
    return [r.message.split("closest match is line ")[1].split(":")[0] for r in results]


def main(argv: list[str]) -> None:
    path = Path(argv[0]) if argv else DEFAULT_DOCUMENT
    old_sample = int(argv[1]) if len(argv) > 1 else 30
    doc = parse_document(path.name, path.read_bytes())
    passing, failing = quotes(doc)

    index_start = time.perf_counter()
    evidence._line_index(doc)
    index_seconds = time.perf_counter() - index_start
    timed(passing[:1_000], doc)  # warm up, so neither side pays for the first calls
    pass_seconds, pass_results = timed(passing, doc)
    fail_each, fail_results = each_timed(failing, doc)
    fail_seconds = sum(fail_each)
    assert all(r.ok for r in pass_results) and not any(r.ok for r in fail_results)
    assert all(r.reason_code == "quote_not_found" for r in fail_results)

    patched: list[tuple[str, Callable[..., object]]] = [
        ("closest_line", difflib_closest_line),
        ("_line_index", uncached_line_index),
    ]
    with mock.patch.multiple(evidence, **dict(patched)):
        old_seconds, old_results = timed(failing[:old_sample], doc)
        old_pass_seconds, _ = timed(passing[:1_000], doc)
    old_per_check = old_seconds / old_sample
    new_per_check = fail_seconds / len(failing)
    same = sum(a == b for a, b in zip(closest_lines(old_results), closest_lines(fail_results), strict=False))

    # For comparison, not used: rapidfuzz's Indel similarity alone, without difflib's ratio.
    index = evidence._line_index(doc)
    needles = [evidence.collapse_whitespace(e.quote) for e in failing]
    alone_start = time.perf_counter()
    alone = [rapidfuzz.process.extractOne(needle, index.choices, scorer=rapidfuzz.fuzz.ratio) for needle in needles]
    alone_seconds = time.perf_counter() - alone_start
    alone_same = sum(
        str(index.numbers[best[2]]) == line for best, line in zip(alone, closest_lines(fail_results), strict=True)
    )

    print(f"document  {path.name}: {doc.line_count:,} lines, {sum(map(len, doc.lines)):,} characters")
    print(f"index     built once per document in {index_seconds * 1000:.1f} ms")
    print(f"{'checks':<30}{'new':>10}{'old':>12}{'ratio':>9}   target")
    print(
        f"{'10,000 quotes that verify':<30}{pass_seconds:>9.3f}s{old_pass_seconds * 10:>11.3f}s"
        f"{old_pass_seconds * 10 / pass_seconds:>8.1f}x   <= 0.5 s: {'met' if pass_seconds <= 0.5 else 'MISSED'}"
    )
    print(
        f"{'1,000 quotes that do not':<30}{fail_seconds:>9.3f}s{old_per_check * 1000:>11.1f}s"
        f"{old_per_check / new_per_check:>8.0f}x   <= 0.5 s: {'met' if fail_seconds <= 0.5 else 'MISSED'}"
    )
    fail_each.sort()
    print(
        f"failing checks: median {fail_each[len(fail_each) // 2] * 1000:.2f} ms, 95th percentile "
        f"{fail_each[len(fail_each) * 95 // 100] * 1000:.1f} ms, slowest {fail_each[-1] * 1000:.0f} ms"
    )
    print(
        f"(old: {old_sample} failing and 1,000 passing checks measured, scaled to the batch; "
        f"closest line the same as difflib's for {same} of {old_sample})"
    )
    print(
        f"rapidfuzz's Indel similarity alone would pick the closest lines of the 1,000 in {alone_seconds:.3f}s, "
        f"the same line as difflib's ratio for {alone_same} of them"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
