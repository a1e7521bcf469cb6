"""Seeded covering arrays: few rows that still show every combination of `strength` axis values.

The generator is greedy in the style of AETG (Cohen et al., 1997). Each new row is the best of
a few candidates; a candidate starts from one interaction no row covers yet and fills the other
axes one at a time, each with the value that covers the most still-missing interactions. Every
choice and tie is made by `random.Random(seed)`, so one seed always gives one array.

An interaction is a choice of `strength` axes and one value on each. Rows hold value indexes
(values count by position, so a repeated value is simply covered twice); `covering_combinations`
maps them back to named values for callers that think in names.
"""

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations, product
from math import prod

Row = tuple[int, ...]
AxesKey = tuple[int, ...]  # axis indexes of an interaction, ascending

CANDIDATES_PER_ROW = 30


@dataclass(frozen=True)
class CoverageStats:
    """How much of the `strength`-way interaction space a set of rows covers."""

    strength: int
    rows: int
    full_product: int
    interactions_total: int
    interactions_covered: int

    @property
    def complete(self) -> bool:
        return self.interactions_covered == self.interactions_total


def covering_array(axes: Sequence[Sequence[str]], strength: int = 2, seed: int = 0) -> list[Row]:
    """Rows of value indexes, one per axis, in which every `strength`-way interaction appears.

    With `strength` at least the number of axes only the full product covers everything, so
    that is what comes back, in `itertools.product` order. No axes at all gives one empty row,
    as the product of nothing does.
    """
    sizes = _axis_sizes(axes, strength)
    if strength >= len(sizes):
        return list(product(*(range(size) for size in sizes)))
    return _GreedyBuilder(sizes, strength, random.Random(seed)).build()


def covering_combinations(axes: Mapping[str, Sequence[str]], strength: int = 2, seed: int = 0) -> list[dict[str, str]]:
    """`covering_array` over named axes: each row maps axis name to value, in the axes' order."""
    names = list(axes)
    values = [list(axes[name]) for name in names]
    return [
        {name: axis_values[index] for name, axis_values, index in zip(names, values, row)}
        for row in covering_array(values, strength, seed)
    ]


def coverage_stats(axes: Sequence[Sequence[str]], rows: Sequence[Row], strength: int = 2) -> CoverageStats:
    """Count the interactions `rows` cover; with fewer axes than `strength`, all axes form one."""
    sizes = _axis_sizes(axes, strength)
    for row in rows:
        if len(row) != len(sizes) or any(not 0 <= index < size for index, size in zip(row, sizes)):
            raise ValueError(f"row {row} does not fit axes of sizes {sizes}")
    keys = list(combinations(range(len(sizes)), min(strength, len(sizes))))
    return CoverageStats(
        strength=strength,
        rows=len(rows),
        full_product=prod(sizes),
        interactions_total=sum(prod(sizes[axis] for axis in key) for key in keys),
        interactions_covered=sum(len({_project(row, key) for row in rows}) for key in keys),
    )


def _axis_sizes(axes: Sequence[Sequence[str]], strength: int) -> list[int]:
    if strength < 1:
        raise ValueError(f"strength must be at least 1, got {strength}")
    for position, values in enumerate(axes):
        if not values:
            raise ValueError(f"axis {position} has no values: every axis needs at least one")
    return [len(values) for values in axes]


def _project(row: Sequence[int], key: AxesKey) -> Row:
    return tuple(row[axis] for axis in key)


class _GreedyBuilder:
    def __init__(self, sizes: list[int], strength: int, rng: random.Random) -> None:
        self.sizes = sizes
        self.strength = strength
        self.rng = rng
        self.missing: dict[AxesKey, set[Row]] = {
            key: set(product(*(range(sizes[axis]) for axis in key)))
            for key in combinations(range(len(sizes)), strength)
        }

    def build(self) -> list[Row]:
        rows: list[Row] = []
        while any(self.missing.values()):
            # max() keeps the first of equal candidates, and their order comes from the seed.
            row, _ = max((self._candidate() for _ in range(CANDIDATES_PER_ROW)), key=lambda scored: scored[1])
            self._cover(row)
            rows.append(row)
        return rows

    def _candidate(self) -> tuple[Row, int]:
        """A complete row and how many missing interactions it covers."""
        row = [-1] * len(self.sizes)
        key, values = self._missing_interaction()
        for axis, value in zip(key, values):
            row[axis] = value
        filled = list(key)
        rest = [axis for axis in range(len(self.sizes)) if row[axis] < 0]
        self.rng.shuffle(rest)
        covered = 1
        for axis in rest:
            value, gain = self._best_value(row, filled, axis)
            row[axis] = value
            filled.append(axis)
            covered += gain
        return tuple(row), covered

    def _missing_interaction(self) -> tuple[AxesKey, Row]:
        """A seeded pick among the missing interactions of the axis set that misses the most."""
        most = max(len(missing) for missing in self.missing.values())
        key = self.rng.choice([key for key, missing in self.missing.items() if len(missing) == most])
        return key, self.rng.choice(sorted(self.missing[key]))

    def _best_value(self, row: list[int], filled: list[int], axis: int) -> tuple[int, int]:
        """The value for `axis` that completes the most missing interactions with filled axes."""
        # Only interactions whose other axes are all filled can be completed by this choice.
        keys = [tuple(sorted((*others, axis))) for others in combinations(filled, self.strength - 1)]
        links = [(key, self.missing[key]) for key in keys]
        options = list(range(self.sizes[axis]))
        self.rng.shuffle(options)
        best_value, best_gain = options[0], -1
        for value in options:
            row[axis] = value
            gain = sum(_project(row, key) in missing for key, missing in links)
            if gain > best_gain:
                best_value, best_gain = value, gain
        return best_value, best_gain

    def _cover(self, row: Row) -> None:
        for key, missing in self.missing.items():
            missing.discard(_project(row, key))
