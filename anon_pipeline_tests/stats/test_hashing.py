"""64-bit string hashes and the hash set behind the leak index and the unique-value tracker."""

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, strategies as st

from anon_pipeline.stats import hashing
from anon_pipeline.stats.hashing import HashSet, UniqueTracker, hash_rows, hash_strings


@given(st.lists(st.text(max_size=40), max_size=60))
def test_equal_strings_hash_equal_and_different_ones_differ(values):
    hashes = hash_strings(pa.array(values, type=pa.string()))
    by_value = {}
    for value, h in zip(values, hashes.tolist()):
        assert by_value.setdefault(value, h) == h
    assert len(set(by_value.values())) == len(by_value)


def test_the_hash_of_a_value_does_not_depend_on_its_array():
    values = ["", "a", "ab", "abcdefgh", "abcdefghi", "x" * 100, "é", "a\x00", "a"]
    hashes = hash_strings(pa.array(values))
    assert (hash_strings(pa.array(values, type=pa.large_string())) == hashes).all()
    assert (hash_strings(pa.array(values).slice(3, 4)) == hashes[3:7]).all()
    chunked = pa.chunked_array([values[:2], values[2:]])
    assert (hash_strings(chunked) == hashes).all()
    assert hashes[1] == hashes[-1] and len(set(hashes.tolist())) == len(values) - 1



@given(st.lists(st.text(min_size=1, max_size=300), min_size=1, max_size=40), st.integers(0, 40))
def test_a_long_value_hashes_the_same_alone_and_among_many(values, ends):
    # A few long strings left fold one by one in Python integers, many at once in numpy: both give one hash.
    alone = hash_strings(pa.array(values))
    padded = hash_strings(pa.array(values + ["p" * 300 + str(i) for i in range(ends)]))
    assert (padded[:len(values)] == alone).all()


def test_no_collision_among_many_similar_values():
    values = [f"AB{i:06d}C" for i in range(300_000)]
    assert len(np.unique(hash_strings(pa.array(values)))) == len(values)


def test_hash_set_membership_over_many_additions():
    members = HashSet()
    added = hash_strings(pa.array([str(i) for i in range(5000)]))
    for start in range(0, len(added), 700):
        members.add(added[start:start + 700])
        members.add(added[start:start + 10])  # repeats are kept once
    others = hash_strings(pa.array([str(i) for i in range(5000, 6000)]))
    assert members.contains(added).all() and not members.contains(others).any()
    assert len(members) == 5000
    assert not HashSet().contains(added).any()


def test_hash_set_membership_is_the_same_below_and_above_its_low_bits_table(monkeypatch):
    # A small set rules hashes out by their low bits first: same answers while it grows past the table's limit
    # (hashes sharing their low bits with a member, and a member queried before and after each addition).
    monkeypatch.setattr(hashing, "_FILTERED", 300)
    rng = np.random.default_rng(4)
    members, added = HashSet(), []
    for size in (1, 5, 40, 100, 200, 400):
        batch = rng.integers(0, 2**64, size, dtype=np.uint64)
        members.add(batch)
        added.append(batch)
        known = np.concatenate(added)
        near = known ^ (np.uint64(1) << np.uint64(40))  # same low bits, not members
        queried = np.concatenate([known, near, rng.integers(0, 2**64, 5000, dtype=np.uint64)])
        found = members.contains(queried)
        assert found[:len(known)].all() and not found[len(known):].any()


def test_unique_tracker_and_row_hashes_count_as_pandas_does_in_any_batches():
    rng = np.random.default_rng(2)
    for _ in range(50):
        n = int(rng.integers(1, 200))
        values = pd.Series(rng.choice([None, *[f"v{i}" for i in range(int(rng.integers(1, 150)))]], n), dtype="str")
        frame = pd.DataFrame({"a": values, "b": rng.choice([1.0, -0.0, 0.0, np.nan], n),
                              "c": pd.Series(rng.choice(np.array([1, "1", None], dtype=object), n), dtype=object),
                              # Numbers, dates and booleans are hashed by their bits, not their text.
                              "d": pd.array(rng.choice([1, 2, -5, None], n), dtype="Int64"),
                              "e": pd.to_datetime(rng.choice(["2020-01-01", "1999-12-31", None], n)),
                              "f": rng.choice([True, False], n), "g": rng.integers(0, 3, n).astype(np.uint8),
                              "h": rng.choice([0.5, 3e38, np.nan], n).astype(np.float32)})
        size = int(rng.integers(1, 20))
        for column in ("a", "b", "d", "e", "g"):
            tracker = UniqueTracker()
            for start in range(0, n, size):
                tracker.add(frame[column].iloc[start:start + size])
            present = frame[column].dropna()
            assert tracker.duplicates == int(present.duplicated(keep=False).sum())
            assert tracker.repeats == int(present.duplicated().sum())
        assert (pd.Series(hash_rows(frame)).duplicated().to_numpy() == frame.duplicated().to_numpy()).all()
