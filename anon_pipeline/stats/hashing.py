"""64-bit hashes of Arrow strings, vectorised: set membership and duplicate counts over many batches of rows
in 8 bytes per distinct value, without keeping the values.

pyarrow hashes strings internally (``unique``, ``is_in``) but exposes no hash function, and pandas' SipHash
(``hash_array``) goes through Python objects (about 10x slower). Here each string is read as little-endian 8-byte
words straight from the Arrow buffers and folded with the splitmix64 / murmur3 finaliser, a few numpy passes
per word position. Equal strings always hash equal; two different strings collide with probability about 2^-64,
so a membership test over n hashed values errs (says "present" for an absent value) with probability about
n / 2^64 per look-up, about 5e-13 for 1e7 values, and never says "absent" for a present one. Not a keyed or
cryptographic hash: it is for finding values, not for hiding them.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_U = np.uint64
_C1, _C2, _GOLDEN = _U(0xFF51AFD7ED558CCD), _U(0xC4CEB9FE1A85EC53), _U(0x9E3779B97F4A7C15)
_SEED = _U(0x2545F4914F6CDD1D)
_S33 = _U(33)
#: Strings hashed per step: temporaries stay small (allocating large fresh arrays is what costs here).
_CHUNK = 1 << 16


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
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        raise TypeError(f"hash_strings takes Arrow strings, not {values.type}")
    n = len(values)
    offset_type = np.int64 if pa.types.is_large_string(values.type) else np.int32
    offsets = np.frombuffer(values.buffers()[1], dtype=offset_type, count=n + 1,
                            offset=values.offset * np.dtype(offset_type).itemsize).astype(np.int64)
    lo, hi = int(offsets[0]), int(offsets[-1])
    # The bytes, padded so that every string's last word can be read as a whole 8 bytes (then masked).
    data = np.zeros(hi - lo + 8, dtype=np.uint8)
    if values.buffers()[2] is not None:
        data[:hi - lo] = np.frombuffer(values.buffers()[2], dtype=np.uint8)[lo:hi]
    words = np.ndarray(shape=(len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))
    out = np.empty(n, dtype=_U)
    for first in range(0, n, _CHUNK):
        bounds = offsets[first:min(n, first + _CHUNK) + 1] - lo
        out[first:first + len(bounds) - 1] = _hash_chunk(words, bounds[:-1], np.diff(bounds))
    return out


def _hash_chunk(words: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    n_words = (length + 7) >> 3
    # Longest strings first, so the strings still to fold at word j are always a prefix.
    order = np.argsort(-n_words, kind="stable")
    start, length, n_words = start[order], length[order], n_words[order]
    with np.errstate(over="ignore"):
        h = length.astype(_U) * _GOLDEN + _SEED
        for j in range(int(n_words[0]) if len(n_words) else 0):
            active = int(np.count_nonzero(n_words > j))
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
    out = np.empty_like(h)
    out[order] = h
    return out


class HashSet:
    """A growing set of 64-bit hashes, 8 bytes per distinct member: ``add`` as often as needed, ``contains``
    looks up many at once (binary search on the sorted members)."""

    def __init__(self) -> None:
        self._sorted = np.zeros(0, dtype=_U)
        self._pending: list[np.ndarray] = []
        self._pending_size = 0

    def add(self, hashes: np.ndarray) -> None:
        self._pending.append(np.asarray(hashes, dtype=_U))
        self._pending_size += len(hashes)
        # Merging whenever the pending part outgrows the merged one keeps the total cost n log n.
        if self._pending_size > max(len(self._sorted), 1 << 20):
            self._merge()

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        """A boolean mask: which of ``hashes`` are members."""
        self._merge()
        hashes = np.asarray(hashes, dtype=_U)
        if not len(self._sorted):
            return np.zeros(len(hashes), dtype=bool)
        at = np.minimum(np.searchsorted(self._sorted, hashes), len(self._sorted) - 1)
        return self._sorted[at] == hashes

    def __len__(self) -> int:
        self._merge()
        return len(self._sorted)

    def _merge(self) -> None:
        if not self._pending:
            return
        new = np.concatenate(self._pending)
        new.sort()
        # Timsort merges the two sorted runs in linear time.
        merged = np.concatenate([self._sorted, new])
        merged.sort(kind="stable")
        self._sorted = distinct_sorted(merged)
        self._pending, self._pending_size = [], 0


def distinct_sorted(values: np.ndarray) -> np.ndarray:
    """The distinct values of a sorted array."""
    if len(values) < 2:
        return values
    keep = np.empty(len(values), dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]
