from collections.abc import Sequence
from itertools import combinations, product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthgen.tools.combinatorics import CoverageStats, coverage_stats, covering_array, covering_combinations


def make_axes(*sizes: int) -> list[list[str]]:
    return [[f"a{axis}v{value}" for value in range(size)] for axis, size in enumerate(sizes)]


def missing_interactions(sizes: Sequence[int], rows: Sequence[tuple[int, ...]], strength: int) -> list[tuple]:
    """Interactions no row shows, by brute force, independent of the code under test."""
    missing = []
    for key in combinations(range(len(sizes)), min(strength, len(sizes))):
        seen = {tuple(row[axis] for axis in key) for row in rows}
        missing.extend((key, values) for values in product(*(range(sizes[a]) for a in key)) if values not in seen)
    return missing


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 4), min_size=1, max_size=6),
    strength=st.sampled_from([1, 2, 3]),
    seed=st.integers(0, 2**32),
)
def test_every_interaction_is_covered(sizes: list[int], strength: int, seed: int) -> None:
    rows = covering_array(make_axes(*sizes), strength, seed)
    assert all(len(row) == len(sizes) and all(0 <= v < n for v, n in zip(row, sizes)) for row in rows)
    assert missing_interactions(sizes, rows, strength) == []
    assert coverage_stats(make_axes(*sizes), rows, strength).complete


@settings(max_examples=20, deadline=None)
@given(sizes=st.lists(st.integers(1, 4), min_size=1, max_size=6), seed=st.integers(0, 1000))
def test_same_seed_same_array(sizes: list[int], seed: int) -> None:
    assert covering_array(make_axes(*sizes), 2, seed) == covering_array(make_axes(*sizes), 2, seed)


def test_seeds_can_give_different_arrays() -> None:
    arrays = {tuple(covering_array(make_axes(4, 4, 4, 4, 4, 4), 2, seed)) for seed in range(5)}
    assert len(arrays) > 1


def test_pairwise_needs_far_fewer_rows_than_the_product() -> None:
    rows = covering_array(make_axes(3, 3, 3, 3))
    stats = coverage_stats(make_axes(3, 3, 3, 3), rows)
    assert stats.full_product == 81
    assert 9 <= stats.rows <= 15  # 9 is the optimum: 3 x 3 pairs of the first two axes alone
    assert len(covering_array(make_axes(4, 4, 4, 4, 4, 4))) <= 30  # of 4096
    assert len(covering_array(make_axes(*[5] * 10))) <= 60  # of 9765625


def test_strength_three_covers_triples_with_fewer_rows_than_the_product() -> None:
    rows = covering_array(make_axes(3, 3, 3, 3, 3), strength=3, seed=7)
    assert missing_interactions([3] * 5, rows, 3) == []
    assert 27 <= len(rows) < 3**5


def test_strength_at_least_the_axis_count_gives_the_full_product() -> None:
    assert covering_array(make_axes(2, 3), strength=2) == list(product(range(2), range(3)))
    assert covering_array(make_axes(2, 2, 2), strength=5, seed=3) == list(product(range(2), repeat=3))


def test_one_axis_gives_one_row_per_value() -> None:
    assert covering_array(make_axes(4)) == [(0,), (1,), (2,), (3,)]


def test_an_axis_with_one_value_is_in_every_row() -> None:
    rows = covering_array(make_axes(3, 1, 3, 2))
    assert {row[1] for row in rows} == {0}
    assert missing_interactions([3, 1, 3, 2], rows, 2) == []


def test_no_axes_give_the_one_empty_row() -> None:
    assert covering_array([]) == [()]
    assert coverage_stats([], [()]) == CoverageStats(
        strength=2, rows=1, full_product=1, interactions_total=1, interactions_covered=1
    )


@pytest.mark.parametrize(
    ("axes", "strength", "message"), [(make_axes(2, 2), 0, "strength"), ([["a"], []], 2, "axis 1")]
)
def test_unusable_input_is_refused(axes: list[list[str]], strength: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        covering_array(axes, strength)


def test_named_rows_map_every_axis_to_one_of_its_values() -> None:
    axes = {"tier": ["none", "gold", "platinum"], "channel": ["chat", "email"], "late": ["yes", "no"]}
    rows = covering_combinations(axes, seed=1)
    assert all(list(row) == ["tier", "channel", "late"] for row in rows)
    assert all(row[name] in values for row in rows for name, values in axes.items())
    pairs = {(a, row[a], b, row[b]) for row in rows for a, b in combinations(axes, 2)}
    assert len(pairs) == 3 * 2 + 3 * 2 + 2 * 2
    assert rows == [
        {name: axes[name][index] for name, index in zip(axes, row)}
        for row in covering_array(list(axes.values()), seed=1)
    ]


def test_coverage_stats_counts_partial_coverage() -> None:
    axes = make_axes(2, 2, 2)
    stats = coverage_stats(axes, [(0, 0, 0), (1, 1, 0)])
    assert stats == CoverageStats(strength=2, rows=2, full_product=8, interactions_total=12, interactions_covered=6)
    assert not stats.complete
    with pytest.raises(ValueError, match="does not fit"):
        coverage_stats(axes, [(0, 0, 2)])
