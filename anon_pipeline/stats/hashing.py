"""64-bit hashes of Arrow strings, vectorised: set membership and duplicate counts over many batches of rows
in 8 bytes per distinct value, without keeping the values.

pyarrow hashes strings internally (``unique``, ``is_in``) but exposes no hash function, and pandas' SipHash
(``hash_array``) goes through Python objects (about 10x slower). Here each string is read as little-endian 8-byte
words straight from the Arrow buffers and folded with murmur3's 64-bit finaliser, a few numpy passes
per word position. Equal strings always hash equal; two different strings collide with probability about 2^-64,
so a membership test over n hashed values errs (says "present" for an absent value) with probability about
n / 2^64 per look-up, about 5e-13 for 1e7 values, and never says "absent" for a present one. Not a keyed or
cryptographic hash: it is for finding values, not for hiding them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_U = np.uint64
_C1, _C2, _GOLDEN = _U(0xFF51AFD7ED558CCD), _U(0xC4CEB9FE1A85EC53), _U(0x9E3779B97F4A7C15)
_SEED = _U(0x2545F4914F6CDD1D)
_S33 = _U(33)
#: Strings hashed per step: temporaries stay small (allocating large fresh arrays is what costs here).
_CHUNK = 1 << 16


def is_text(type_: pa.DataType) -> bool:
    return pa.types.is_string(type_) or pa.types.is_large_string(type_)


def mix64(h: np.ndarray) -> np.ndarray:
    """murmur3's 64-bit finaliser, in place on a uint64 array (a bijection that spreads every input bit)."""
    with np.errstate(over="ignore"):
        h ^= h >> _S33
        h *= _C1
        h ^= h >> _S33
        h *= _C2
        h ^= h >> _S33
    return h


def hash_strings(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """One uint64 hash per string of ``values`` (string or large_string; drop nulls first: a null's hash is
    unspecified)."""
    if isinstance(values, pa.ChunkedArray):
        return np.concatenate([hash_strings(c) for c in values.chunks]) if values.num_chunks \
            else np.zeros(0, dtype=_U)
    if not is_text(values.type):
        raise TypeError(f"hash_strings takes Arrow strings, not {values.type}")
    n = len(values)
    offsets, raw = string_bytes(values)
    # The bytes, padded so that every string's last word can be read as a whole 8 bytes (then masked).
    data = np.zeros(len(raw) + 8, dtype=np.uint8)
    data[:len(raw)] = raw
    words = np.ndarray(shape=(len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))
    out = np.empty(n, dtype=_U)
    for first in range(0, n, _CHUNK):
        bounds = offsets[first:min(n, first + _CHUNK) + 1]
        out[first:first + len(bounds) - 1] = _hash_chunk(words, bounds[:-1], np.diff(bounds))
    return out


def string_bytes(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(n + 1 offsets, from 0, as int64; the UTF-8 bytes) of a string or large_string array, read in place from
    its Arrow buffers: string ``i`` is ``data[offsets[i]:offsets[i + 1]]`` (a null's bytes are unspecified). Both
    read-only, and copied only where they must be (fresh arrays of a batch's size cost more than the reading)."""
    n = len(values)
    offset_type = np.int64 if pa.types.is_large_string(values.type) else np.int32
    offsets = np.frombuffer(values.buffers()[1], dtype=offset_type, count=n + 1,
                            offset=values.offset * np.dtype(offset_type).itemsize).astype(np.int64, copy=False)
    lo, hi = int(offsets[0]), int(offsets[-1])
    data = values.buffers()[2]
    return offsets - lo if lo else offsets, (np.frombuffer(data, dtype=np.uint8)[lo:hi] if data is not None
                                             else np.zeros(0, dtype=np.uint8))


#: Strings still folding below which the rest of each is folded on its own (see ``_fold_words``).
_FEW = 16
_M64 = (1 << 64) - 1


def _fold_words(words: np.ndarray, start: int, length: int, first: int, h: int) -> int:
    """``_hash_chunk``'s fold of one string's words from word ``first`` on, on Python integers (same result)."""
    n_words = (length + 7) >> 3
    tail = words[start + 8 * np.arange(first, n_words)].tolist()
    rest = length - 8 * (n_words - 1)
    if rest < 8:
        tail[-1] &= (1 << (8 * rest)) - 1
    golden, c1, c2 = int(_GOLDEN), int(_C1), int(_C2)
    for word in tail:
        h = ((h ^ word) * golden) & _M64
        h ^= h >> 33
        h = (h * c1) & _M64
        h ^= h >> 33
        h = (h * c2) & _M64
        h ^= h >> 33
    return h


def _hash_chunk(words: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    n_words = (length + 7) >> 3
    # Longest strings first, so the strings still to fold at word j are always a prefix.
    order = None if n_words.min(initial=0) == n_words.max(initial=0) else np.argsort(-n_words, kind="stable")
    if order is not None:
        start, length, n_words = start[order], length[order], n_words[order]
    with np.errstate(over="ignore"):
        h = length.astype(_U) * _GOLDEN + _SEED
        for j in range(int(n_words[0]) if len(n_words) else 0):
            active = int(np.count_nonzero(n_words > j))
            if active <= _FEW:
                # A few long strings left: numpy's per-call cost on a handful of values would dominate (an 8 MB
                # field took 40 s), so each string's remaining words fold in Python integers instead.
                for i in range(active):
                    h[i] = _fold_words(words, int(start[i]), int(length[i]), j, int(h[i]))
                break
            word = words[start[:active] + 8 * j]
            rest = length[:active] - 8 * j
            partial = rest < 8
            if partial.any():
                word[partial] &= (_U(1) << (rest[partial].astype(_U) * _U(8))) - _U(1)
            folded = h[:active]
            folded ^= word
            folded *= _GOLDEN
            mix64(folded)
        mix64(h)
    if order is None:
        return h
    out = np.empty_like(h)
    out[order] = h
    return out


#: Members up to which a ``HashSet`` keeps its low-bits table (at most 2 MB of booleans).
_FILTERED = 1 << 16


class HashSet:
    """A growing set of 64-bit hashes, 8 bytes per distinct member: ``add`` as often as needed, ``contains``
    looks up many at once. Members are kept in sorted runs whose sizes at least double from the newest to the
    oldest (runs of similar size are merged), so adding n hashes in any batches costs n log n and a look-up
    searches at most log n runs. A small set (up to ``_FILTERED`` members) also keeps a table of the low bits of its
    members, which rules most absent hashes out with one look-up each, before the binary searches."""

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []
        #: Members of the runs (an upper bound: two runs may hold one hash) and the low-bits table, if built.
        self._size = 0
        self._filter: np.ndarray | None = None

    def add(self, hashes: np.ndarray) -> None:
        run = np.sort(np.asarray(hashes, dtype=_U))
        if not len(run):
            return
        run = distinct_sorted(run)
        self._runs.append(run)
        self._size += len(run)
        if self._filter is not None and 8 * self._size <= len(self._filter):
            self._filter[run & _U(len(self._filter) - 1)] = True
        else:
            self._filter = None  # rebuilt, twice the size, when next needed: amortised linear
        while len(self._runs) > 1 and len(self._runs[-2]) <= 2 * len(self._runs[-1]):
            newer = self._runs.pop()
            merged = np.concatenate([self._runs.pop(), newer])
            merged.sort(kind="stable")  # timsort: two sorted runs merge in linear time
            self._runs.append(distinct_sorted(merged))
        self._size = sum(len(r) for r in self._runs)

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        """A boolean mask: which of ``hashes`` are members."""
        hashes = np.asarray(hashes, dtype=_U)
        found = np.zeros(len(hashes), dtype=bool)
        if not self._runs:
            return found
        table = self._low_bits()
        if table is not None:
            maybe = np.flatnonzero(table[hashes & _U(len(table) - 1)])
            found[maybe] = self._search(hashes[maybe])
            return found
        return self._search(hashes)

    def _low_bits(self) -> np.ndarray | None:
        """Per pattern of the low bits, whether a member ends in it (8 to 32 patterns per member, so at most 1 in 8
        absent hashes gets past it); None for a set too large to make it pay."""
        if self._filter is None and self._size <= _FILTERED:
            self._filter = np.zeros(1 << (self._size * 16 - 1).bit_length(), dtype=bool)
            for run in self._runs:
                self._filter[run & _U(len(self._filter) - 1)] = True
        return self._filter

    def _search(self, hashes: np.ndarray) -> np.ndarray:
        found = np.zeros(len(hashes), dtype=bool)
        for run in self._runs:
            at = np.minimum(np.searchsorted(run, hashes), len(run) - 1)
            found |= run[at] == hashes
        return found

    def __len__(self) -> int:
        if len(self._runs) > 1:
            merged = np.concatenate(self._runs)
            merged.sort()
            self._runs = [distinct_sorted(merged)]
        return len(self._runs[0]) if self._runs else 0


def distinct_sorted(values: np.ndarray) -> np.ndarray:
    """The distinct values of a sorted array."""
    if len(values) < 2:
        return values
    keep = np.empty(len(values), dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def mostly_distinct(values: pa.Array, sample: int = 4096) -> bool:
    """Whether a column looks like a key (nearly every value distinct), judged on its first rows: then work
    done once per distinct value (``unique`` first) costs more than it saves."""
    head = values.slice(0, sample)
    return len(head) >= 64 and len(pc.unique(head)) > 0.9 * len(head)


def arrow_column(values: pd.Series) -> pa.Array:
    """A column as one Arrow array of its own type, nulls kept (zero-copy where pandas holds Arrow data)."""
    arr = pa.array(values, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
    return arr.dictionary_decode() if pa.types.is_dictionary(arr.type) else arr


def _arrow_text(values: pd.Series) -> pa.Array:
    """A column as one Arrow text array, nulls kept; numbers and dates as their text (equal values, equal text:
    -0.0 is made 0.0 first; Python objects of mixed types as type and text, so 1 and "1" stay apart)."""
    try:
        arr = arrow_column(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        tagged = [None if pd.isna(v) else f"{type(v).__name__}:{v}" for v in values]
        return pa.array(tagged, type=pa.string())
    if pa.types.is_floating(arr.type):
        arr = pc.add(arr, pa.scalar(0.0, arr.type))
    return arr if is_text(arr.type) else pc.cast(arr, pa.string())


def _number_bits(values: pd.Series) -> tuple[np.ndarray, np.ndarray | None] | None:
    """(64 bits per cell, missing mask or None) of a column of numbers, dates or booleans; None for other types.
    Equal values have equal bits (-0.0 is made 0.0), so hashing the bits needs no text: murmur3's finaliser is a
    bijection on 64 bits, so two different values of one column never collide."""
    try:
        arr = arrow_column(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    kind = arr.type
    if pa.types.is_floating(kind):
        arr = pc.add(pc.cast(arr, pa.float64()), pa.scalar(0.0))
        bits = arr.fill_null(0.0).to_numpy(zero_copy_only=False).view(_U)
    elif pa.types.is_integer(kind) or pa.types.is_boolean(kind) or pa.types.is_temporal(kind):
        if pa.types.is_unsigned_integer(kind) and kind.bit_width == 64:
            bits = arr.fill_null(0).to_numpy(zero_copy_only=False).astype(_U)
        else:
            as_int = arr if pa.types.is_integer(kind) else pc.cast(arr, pa.int8() if pa.types.is_boolean(kind)
                                                                   else _TEMPORAL_INT[kind.bit_width])
            bits = pc.cast(as_int, pa.int64()).fill_null(0).to_numpy(zero_copy_only=False).view(_U)
    else:
        return None
    missing = arr.is_null().to_numpy(zero_copy_only=False) if arr.null_count else None
    return bits, missing


_TEMPORAL_INT = {32: pa.int32(), 64: pa.int64()}


def _hash_cells(values: pd.Series) -> tuple[np.ndarray, np.ndarray | None]:
    """(one hash per cell, missing mask or None): numbers by their bits, everything else by its text."""
    numbers = _number_bits(values)
    if numbers is not None:
        bits, missing = numbers
        with np.errstate(over="ignore"):
            h = bits ^ _NUMBER_SEED
            mix64(h)
        return h, missing
    text = _arrow_text(values)
    cells = hash_strings(text)
    return cells, (text.is_null().to_numpy(zero_copy_only=False) if text.null_count else None)


#: Numbers are hashed from another seed than text: a column is hashed one way throughout, never compared across.
_NUMBER_SEED = _U(0x3C6EF372FE94F82B)


def hash_values(values: pd.Series) -> np.ndarray:
    """Hashes of the non-missing values of a column of any type (each column type hashed one way throughout)."""
    cells, missing = _hash_cells(values)
    return cells if missing is None else cells[~missing]


_NULL = _U(0x6A09E667F3BCC908)


def hash_rows(frame: pd.DataFrame) -> np.ndarray:
    """One hash per row over all its columns in order, missing cells equal to each other (as
    ``DataFrame.duplicated`` compares them)."""
    rows = np.full(len(frame), _SEED, dtype=_U)
    with np.errstate(over="ignore"):
        for i in range(frame.shape[1]):
            cells, missing = _hash_cells(frame.iloc[:, i])
            if missing is not None:
                cells[missing] = _NULL
            rows ^= cells
            rows *= _GOLDEN
            mix64(rows)
    return rows


class UniqueTracker:
    """Repeated values of a column over every batch added so far, missing values aside, in 8 bytes per distinct
    value: ``duplicates`` counts the rows holding a value that occurs more than once (pandas
    ``duplicated(keep=False)``, what pandera's ``unique`` reports), ``repeats`` the rows equal to an earlier one
    (``duplicated(keep="first")``)."""

    def __init__(self) -> None:
        self._seen = HashSet()
        self._repeated = HashSet()
        self.duplicates = 0
        self.repeats = 0

    def add(self, values: pd.Series) -> int:
        """Add one batch of the column; returns ``duplicates`` so far."""
        return self.add_hashes(hash_values(values))

    def add_hashes(self, hashes: np.ndarray) -> int:
        distinct, counts = np.unique(hashes, return_counts=True)
        seen = self._seen.contains(distinct)
        repeated = self._repeated.contains(distinct)
        # Already repeated: each new row counts; seen once before: so does that earlier row; new: counts if
        # repeated within the batch.
        self.duplicates += int(counts[repeated].sum() + (counts[seen & ~repeated] + 1).sum()
                               + counts[~seen & (counts > 1)].sum())
        self.repeats += len(hashes) - int((~seen).sum())
        self._repeated.add(distinct[~repeated & (seen | (counts > 1))])
        self._seen.add(distinct[~seen])
        return self.duplicates


def duplicated(values: pd.Series) -> np.ndarray:
    """``values.duplicated(keep=False)`` with missing values never duplicated, exactly: candidates found by hash,
    then compared as values (a hash collision costs a comparison, never a wrong answer)."""
    present = values.notna().to_numpy()
    hashes = np.zeros(len(values), dtype=_U)
    hashes[present] = hash_values(values)
    candidates = present & pd.Series(hashes).duplicated(keep=False).to_numpy()
    out = np.zeros(len(values), dtype=bool)
    if candidates.any():
        out[candidates] = values[candidates].duplicated(keep=False).to_numpy()
    return out
