"""Stable, content-derived IDs: `prefix + hex digits of sha256(key)`.

An ID derives from what an item is about (the caller builds the key from it), never from run
order or generated wording, so a re-run or a revised example keeps its ID. Ten hex digits are
enough for any one dataset; when two different keys do share them, only those IDs grow, and
how much depends on the set of keys, never on their order.
"""

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from itertools import pairwise
from typing import Literal, get_args

from synthgen.schemas.items import ID_DIGITS

IdPrefix = Literal["uc_", "pol_", "tc_", "ex_"]

ID_PATTERN = re.compile(rf"^(uc|pol|tc|ex)_{ID_DIGITS}$")
SHORT_HEX = 10


def normalize_key(text: str) -> str:
    """The form of `text` that should not change its ID: case, spacing and end punctuation ignored.

    NFKC first, so the same words typed with compatibility characters (ligatures, full-width
    letters, non-breaking spaces) give the same key.
    """
    collapsed = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    start, end = 0, len(collapsed)
    while start < end and _is_trimmable(collapsed[start]):
        start += 1
    while end > start and _is_trimmable(collapsed[end - 1]):
        end -= 1
    return collapsed[start:end]


def allocate_ids(prefix: IdPrefix, keys: Sequence[str]) -> list[str]:
    """One ID per key, in order: equal keys share an ID, different keys never do."""
    _checked(prefix)
    digests = {key: _digest(key) for key in keys}
    if len(set(digests.values())) < len(digests):
        raise ValueError("two different keys have the same sha256 digest; no ID can tell them apart")
    lengths = _distinguishing_lengths(list(digests.values()))
    id_of = {key: prefix + digest[: lengths[digest]] for key, digest in digests.items()}
    return [id_of[key] for key in keys]


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _distinguishing_lengths(digests: Sequence[str]) -> dict[str, int]:
    """Per digest, the shortest prefix (at least SHORT_HEX) that no other digest starts with.

    In sorted order the digest sharing the longest prefix with a given one is a neighbour, so
    comparing neighbours is enough. Two IDs of unequal length cannot be equal, and two of equal
    length both extend past their common prefix, so the IDs are unique. Digests must be distinct.
    """
    ordered = sorted(digests)
    lengths = dict.fromkeys(ordered, SHORT_HEX)
    for left, right in pairwise(ordered):
        needed = _common_prefix_length(left, right) + 1
        lengths[left] = max(lengths[left], needed)
        lengths[right] = max(lengths[right], needed)
    return lengths


def _common_prefix_length(left: str, right: str) -> int:
    length = 0
    for a, b in zip(left, right):
        if a != b:
            break
        length += 1
    return length


def _is_trimmable(char: str) -> bool:
    return char.isspace() or unicodedata.category(char).startswith("P")


def _checked(prefix: str) -> str:
    if prefix not in get_args(IdPrefix):
        raise ValueError(f"unknown ID prefix {prefix!r}: use one of {', '.join(get_args(IdPrefix))}")
    return prefix
