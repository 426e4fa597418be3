"""GUIDs as bytes: the row identifiers of staged tables, made, checked and ordered in numpy.

A GUID is a random version-4 UUID in its 36-character lower-case form. Millions are made per run, checked by the
qi table's schema and sorted in every bucket read, so all three work on the fixed-width bytes of the Arrow
strings, never on a Python string or a regex per row.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pyarrow

from anon_pipeline.stats.hashing import arrow_column, is_text, string_bytes

GUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"


#: Each byte as its two hex digits (little-endian uint16: the first digit in the low byte).
_HEX_PAIRS = np.array([ord("0123456789abcdef"[b >> 4]) | ord("0123456789abcdef"[b & 15]) << 8 for b in range(256)],
                      dtype="<u2")
#: (start in the 36-character form, start in the 32 hex digits, length) of the five groups between dashes.
_GROUPS = ((0, 0, 8), (9, 8, 4), (14, 12, 4), (19, 16, 4), (24, 20, 12))


def random_guids(n: int) -> pd.api.extensions.ExtensionArray:
    """``n`` random version-4 UUID strings (a pandas ``str`` array), built from ``os.urandom`` bytes in numpy:
    no Python object per row, so millions of rows take a fraction of a second."""
    return random_guids_with_lead(n)[0]


def random_guids_with_lead(n: int) -> tuple[pd.api.extensions.ExtensionArray, np.ndarray]:
    """``random_guids`` and the leading 32 bits of each GUID (an unsigned integer): its place in GUID order."""
    raw = np.frombuffer(os.urandom(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    digits = _HEX_PAIRS[raw].view(np.uint8).reshape(n, 32)
    chars = np.full((n, 36), ord("-"), dtype=np.uint8)
    for at, start, length in _GROUPS:
        chars[:, at:at + length] = digits[:, start:start + length]
    # The (n, 36) bytes are the data buffer of an Arrow string array whose offsets step by 36.
    offsets = np.arange(0, 36 * n + 1, 36, dtype=np.int64)
    strings = pyarrow.LargeStringArray.from_buffers(n, pyarrow.py_buffer(offsets), pyarrow.py_buffer(chars))
    lead = raw[:, :4].copy().view(">u4").ravel().astype(np.uint32)
    return pd.array(strings, dtype="str"), lead


def _guid_chars(values: pd.Series) -> np.ndarray | None:
    """The characters of 36-character strings as an (n, 36) byte array, a view of their Arrow data buffer; None
    when a value is missing or of another length (the caller then falls back to string operations)."""
    if len(values) == 0:
        return np.empty((0, 36), dtype=np.uint8)
    try:
        array = arrow_column(values)
    except (pyarrow.ArrowException, TypeError):
        return None
    if not is_text(array.type) or array.null_count:
        return None
    offsets, data = string_bytes(array)
    if not (np.diff(offsets) == 36).all():
        return None
    return data.reshape(len(array), 36)


_HEX = np.zeros(256, dtype=bool)
_HEX[[ord(c) for c in "0123456789abcdef"]] = True
_NIBBLE = np.zeros(256, dtype=np.uint8)
_NIBBLE[[ord(c) for c in "0123456789abcdef"]] = np.arange(16, dtype=np.uint8)
_DASHES = [8, 13, 18, 23]
_HEX_AT = [i for i in range(36) if i not in _DASHES]


def is_guid(values: pd.Series) -> pd.Series:
    """Whether each value is a version-4 UUID in lower-case hex (``GUID_PATTERN``), judged on the bytes of the
    strings in numpy: the regex, once per row, cost a second per million rows."""
    chars = _guid_chars(values)
    if chars is None:
        return values.str.fullmatch(GUID_PATTERN).fillna(False).astype(bool)
    ok = _HEX[chars[:, _HEX_AT]].all(axis=1) & (chars[:, _DASHES] == ord("-")).all(axis=1)
    ok &= (chars[:, 14] == ord("4")) & np.isin(chars[:, 19], [ord(c) for c in "89ab"])
    return pd.Series(ok, index=values.index)


def guid_order(values: pd.Series) -> np.ndarray:
    """The positions of ``values`` (GUIDs) in GUID order, stable: the order of their first 64 bits, from the
    bytes in numpy (a sort of the strings took a tenth of a second per bucket)."""
    chars = _guid_chars(values)
    if chars is None:
        return np.argsort(values.to_numpy(dtype=object), kind="stable")
    return np.argsort(_prefix_keys(chars), kind="stable")


def _prefix_keys(chars: np.ndarray) -> np.ndarray:
    """The first 16 hex digits of each GUID as a number. Lower-case hex keeps its order in ASCII, so the numbers
    sort as the strings do."""
    nibbles = _NIBBLE[chars[:, _HEX_AT[:16]]]
    return np.ascontiguousarray((nibbles[:, 0::2] << 4) | nibbles[:, 1::2]).view(">u8").ravel().astype(np.uint64)


def _repeats(keys: np.ndarray) -> bool:
    """Whether a key occurs twice (sorts ``keys`` in place)."""
    keys.sort()
    return bool((keys[1:] == keys[:-1]).any())


def shares_prefix(values: pd.Series) -> bool | None:
    """Whether two of ``values`` (GUIDs) share their first 64 bits; None when they are not all GUID-shaped.
    False proves them distinct, at the cost of a sort of integers instead of hashing the strings."""
    chars = _guid_chars(values)
    if chars is None:
        return None
    return _repeats(_prefix_keys(chars))


class GuidPrefixes:
    """Whether the GUIDs of every batch added so far are distinct table-wide, from the first 64 bits of each
    (8 bytes a row, sorted once at the end). Distinct prefixes prove distinct GUIDs; a shared prefix (odds of
    about n^2 / 2^61 for n random GUIDs) proves nothing either way, and the caller compares the GUIDs themselves."""

    def __init__(self) -> None:
        self._keys: list[np.ndarray] = []
        self.usable = True

    def add(self, values: pd.Series) -> None:
        chars = _guid_chars(values)
        if chars is None:
            self.usable = False  # not all GUIDs: the schema check says which
            return
        self._keys.append(_prefix_keys(chars))

    def distinct(self) -> bool:
        if not self.usable:
            return False
        keys = np.concatenate(self._keys) if self._keys else np.empty(0, dtype=np.uint64)
        self._keys = [keys]
        return not _repeats(keys)
