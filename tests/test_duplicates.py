import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthgen.tools.duplicates import DuplicateGroup, find_duplicates, normalize_text


def test_exact_copies_point_to_the_first() -> None:
    items = [("a", "Refund within 5 days."), ("b", "Something else"), ("c", "Refund within 5 days.")]
    assert find_duplicates(items) == [DuplicateGroup("exact", "a", ("c",))]


def test_copies_differing_in_case_spacing_or_punctuation_are_normalized_duplicates() -> None:
    items = [("a", "Refund within 5 days."), ("b", "refund  within\n5 days"), ("c", "REFUND, within 5 days!")]
    assert find_duplicates(items) == [DuplicateGroup("normalized", "a", ("b", "c"))]


def test_every_duplicate_points_to_the_kept_item_without_chains() -> None:
    items = [("a", "Foo bar."), ("b", "foo bar"), ("c", "Foo bar."), ("d", "foo bar"), ("e", "other")]
    assert find_duplicates(items) == [
        DuplicateGroup("exact", "a", ("c",)),
        DuplicateGroup("normalized", "a", ("b", "d")),
    ]


def test_groups_follow_the_order_of_the_kept_items() -> None:
    items = [("x1", "second text"), ("y1", "First text"), ("y2", "first text"), ("x2", "second text")]
    assert [group.kept_id for group in find_duplicates(items)] == ["x1", "y1"]


def test_different_texts_are_not_duplicates() -> None:
    assert (
        find_duplicates([("a", "Refund in 5 days"), ("b", "Refund in 6 days"), ("c", "Refund in 5 days later")]) == []
    )
    assert find_duplicates([]) == []


def test_texts_of_only_punctuation_are_compared_exactly() -> None:
    items = [("a", "..."), ("b", "!!"), ("c", "...")]
    assert find_duplicates(items) == [DuplicateGroup("exact", "a", ("c",))]


def test_repeated_item_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="'a' appears twice"):
        find_duplicates([("a", "one"), ("a", "two")])


def test_normalize_text() -> None:
    assert normalize_text("  Don’t  REFUND—ever!\n") == "dont refundever"
    assert normalize_text("ﬁle") == "file"


@settings(max_examples=150, deadline=None)
@given(texts=st.lists(st.text(alphabet="aB .,\n", max_size=5), max_size=12))
def test_duplicates_partition_the_items(texts: list[str]) -> None:
    items = [(f"id{index}", text) for index, text in enumerate(texts)]
    text_of = dict(items)
    groups = find_duplicates(items)
    dropped = [item_id for group in groups for item_id in group.duplicate_ids]
    kept = {group.kept_id for group in groups}
    assert len(dropped) == len(set(dropped)), "each duplicate is reported once"
    assert kept.isdisjoint(dropped), "a kept item is never a duplicate"
    position = {item_id: index for index, (item_id, _) in enumerate(items)}
    for group in groups:
        for item_id in group.duplicate_ids:
            assert position[group.kept_id] < position[item_id]
            if group.kind == "exact":
                assert text_of[item_id] == text_of[group.kept_id]
            else:
                assert text_of[item_id] != text_of[group.kept_id]
                assert normalize_text(text_of[item_id]) == normalize_text(text_of[group.kept_id]) != ""
    survivors = [text for item_id, text in items if item_id not in dropped]
    keys = [normalize_text(text) or f"raw:{text}" for text in survivors]
    assert len(keys) == len(set(keys)), "no two survivors say the same thing"
