"""Duplicate detection on item text: identical, or identical once case, spacing and punctuation are ignored.

Every duplicate points at the item that survives, the first of its kind in input order, so a
caller can drop the duplicates without following chains.
"""

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

DuplicateKind = Literal["exact", "normalized"]


@dataclass(frozen=True)
class DuplicateGroup:
    kind: DuplicateKind  # exact: same text as the kept item; normalized: same after normalize_text
    kept_id: str
    duplicate_ids: tuple[str, ...]


def normalize_text(text: str) -> str:
    """Text with case, punctuation and runs of whitespace ignored (NFKC first, like IDs)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(char for char in folded if not unicodedata.category(char).startswith("P"))
    return " ".join(kept.split())


def find_duplicates(items: Sequence[tuple[str, str]]) -> list[DuplicateGroup]:
    """Groups of (item_id, text) items that say the same thing, ordered by the kept item.

    A kept item has at most two groups: its exact copies, then the items equal only after
    normalizing. Texts that normalize to nothing (only punctuation or spaces) say nothing
    comparable, so only exact copies of them count.
    """
    _require_unique_ids(items)
    classes: dict[str, list[tuple[str, str]]] = {}
    for item_id, text in items:
        classes.setdefault(_class_key(text), []).append((item_id, text))
    groups: list[DuplicateGroup] = []
    for members in classes.values():
        (kept_id, kept_text), *others = members
        exact = tuple(item_id for item_id, text in others if text == kept_text)
        normalized = tuple(item_id for item_id, text in others if text != kept_text)
        if exact:
            groups.append(DuplicateGroup("exact", kept_id, exact))
        if normalized:
            groups.append(DuplicateGroup("normalized", kept_id, normalized))
    return groups


def _class_key(text: str) -> str:
    # The prefixes keep a normalized text from ever equalling a raw one.
    normalized = normalize_text(text)
    return f"n:{normalized}" if normalized else f"x:{text}"


def _require_unique_ids(items: Sequence[tuple[str, str]]) -> None:
    seen: set[str] = set()
    for item_id, _ in items:
        if item_id in seen:
            raise ValueError(f"item id {item_id!r} appears twice: duplicate detection needs unique ids")
        seen.add(item_id)
