import hashlib
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthgen.tools import ids
from synthgen.tools.ids import ID_PATTERN, allocate_ids, normalize_key

PREFIXES = st.sampled_from(["uc_", "pol_", "tc_", "ex_"])
KEYS = st.lists(st.text(max_size=12), max_size=40)


def crafted(digests: dict[str, str]) -> Callable[[str], str]:
    """A digest function with chosen outputs, padded to 64 hex digits, for forcing collisions."""
    return lambda key: digests[key].ljust(64, "0")


@contextmanager
def frequent_collisions() -> Iterator[None]:
    """Real digests behind 8 shared zeros: two keys share 10 digits once in 256 pairs."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ids, "_digest", lambda key: "0" * 8 + hashlib.sha256(key.encode()).hexdigest()[:56])
        yield


def test_id_is_prefix_and_first_ten_hex_digits_of_sha256() -> None:
    digest = hashlib.sha256(b"doc_0123456789ab|refunds").hexdigest()
    assert allocate_ids("pol_", ["doc_0123456789ab|refunds"]) == [f"pol_{digest[:10]}"]


def test_equal_keys_share_an_id_and_order_is_kept() -> None:
    first, second, again = allocate_ids("tc_", ["a", "b", "a"])
    assert first == again != second
    assert allocate_ids("tc_", ["b", "a"]) == [second, first]


def test_unknown_prefix_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown ID prefix 'doc_'"):
        allocate_ids("doc_", ["a"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="use one of uc_, pol_, tc_, ex_"):
        allocate_ids("uc", ["a"])  # type: ignore[arg-type]


def test_colliding_keys_grow_until_they_differ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        ids,
        "_digest",
        crafted({"a": "0123456789aa", "b": "0123456789ab", "c": "0123456789b", "d": "fedcba9876"}),
    )
    assert allocate_ids("uc_", ["a", "b", "c", "d", "a"]) == [
        "uc_0123456789aa",  # shares 11 digits with b
        "uc_0123456789ab",
        "uc_0123456789b",  # shares 10 digits with a and b
        "uc_fedcba9876",  # collides with nothing, keeps the short form
        "uc_0123456789aa",
    ]
    # Without its colliding partners, a key keeps its short ID.
    assert allocate_ids("uc_", ["a", "d"]) == ["uc_0123456789", "uc_fedcba9876"]


def test_identical_digests_for_different_keys_are_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ids, "_digest", crafted({"a": "ab", "b": "ab"}))
    with pytest.raises(ValueError, match="same sha256 digest"):
        allocate_ids("ex_", ["a", "b"])


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("  Refund   the\tOrder. ", "refund the order"),
        ("“Refund the order!”", "refund the order"),
        ("Don't refund — ever...", "don't refund — ever"),
        ("STRASSE", "strasse"),
        ("Straße", "strasse"),
        ("ﬁle\u00a0claim", "file claim"),
        ("...", ""),
    ],
)
def test_normalize_key_ignores_case_spacing_and_end_punctuation(text: str, key: str) -> None:
    assert normalize_key(text) == key


@settings(max_examples=200, deadline=None)
@given(text=st.text())
def test_normalize_key_is_idempotent(text: str) -> None:
    assert normalize_key(normalize_key(text)) == normalize_key(text)


@settings(max_examples=100, deadline=None)
@given(prefix=PREFIXES, keys=KEYS)
def test_ids_match_the_id_pattern_of_the_schemas(prefix: str, keys: list[str]) -> None:
    for item_id in allocate_ids(prefix, keys):  # type: ignore[arg-type]
        assert ID_PATTERN.fullmatch(item_id)
        assert re.fullmatch(r"^(uc|pol|tc|ex)_[0-9a-f]{10,64}$", item_id)
        assert item_id.startswith(prefix)


def check_allocation(prefix: str, keys: list[str], order: list[int]) -> None:
    allocated = dict(zip(keys, allocate_ids(prefix, keys)))  # type: ignore[arg-type]
    assert len(set(allocated.values())) == len(allocated), "different keys must get different ids"
    shuffled = [keys[i] for i in order]
    assert dict(zip(shuffled, allocate_ids(prefix, shuffled))) == allocated  # type: ignore[arg-type]
    for key, item_id in allocated.items():
        assert (prefix + ids._digest(key)).startswith(item_id)
        assert ID_PATTERN.fullmatch(item_id)


@settings(max_examples=100, deadline=None)
@given(prefix=PREFIXES, keys=KEYS, data=st.data())
def test_allocation_is_unique_and_independent_of_order(prefix: str, keys: list[str], data: st.DataObject) -> None:
    check_allocation(prefix, keys, data.draw(st.permutations(range(len(keys)))))


@settings(max_examples=100, deadline=None)
@given(keys=st.lists(st.text(max_size=8), min_size=20, max_size=80, unique=True), data=st.data())
def test_allocation_under_frequent_collisions(keys: list[str], data: st.DataObject) -> None:
    with frequent_collisions():
        check_allocation("pol_", keys, data.draw(st.permutations(range(len(keys)))))
        digests = {key: ids._digest(key) for key in keys}
        for key, item_id in zip(keys, allocate_ids("pol_", keys)):
            collides = any(other[:10] == digests[key][:10] for k, other in digests.items() if k != key)
            assert (len(item_id) > len("pol_") + 10) == collides, "only colliding ids grow"
