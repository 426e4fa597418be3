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


#: The runs of hex digits in the 36-character form, as (start, bytes) words of 8 or 4 bytes.
_HEX_WORDS = ((0, 8), (9, 4), (14, 4), (19, 4), (24, 8), (32, 4))
_DASHES = [8, 13, 18, 23]


def _word(chars: np.ndarray, start: int, width: int) -> np.ndarray:
    """Bytes ``start:start + width`` (8 or 4) of each row as one big-endian number, first character highest."""
    return np.ascontiguousarray(chars[:, start:start + width]).view(f">u{width}").ravel().astype(np.uint64)


def _bytes_of(value: int, width: int) -> np.uint64:
    """``value`` in each of ``width`` bytes."""
    return np.uint64(int.from_bytes(bytes([value]) * width, "big"))


def _hex_word(word: np.ndarray, width: int) -> np.ndarray:
    """Whether every byte of each word is a lower-case hex digit, eight bytes per operation (SWAR): adding
    0x80 - c to an ASCII byte sets its high bit exactly when the byte is at least c, and no carry crosses bytes."""
    high = _bytes_of(0x80, width)

    def at_least(c: int) -> np.ndarray:
        return word + _bytes_of(0x80 - c, width)

    digit = at_least(ord("0")) & ~at_least(ord("9") + 1)
    letter = at_least(ord("a")) & ~at_least(ord("f") + 1)
    return ((word & high) == 0) & (((digit | letter) & high) == high)


def _nibbles(word: np.ndarray, width: int) -> np.ndarray:
    """Each byte (a lower-case hex digit) as its value 0-15: the low four bits, plus 9 for a letter."""
    return (word & _bytes_of(0x0F, width)) + np.uint64(9) * ((word >> np.uint64(6)) & _bytes_of(1, width))


def _packed(nibbles: np.ndarray, width: int) -> np.ndarray:
    """``width`` nibble bytes (8 or 4), first highest, as one number of 4 * ``width`` bits."""
    x = (nibbles | (nibbles >> np.uint64(4))) & np.uint64(0x00FF00FF00FF00FF)
    x = (x | (x >> np.uint64(8))) & np.uint64(0x0000FFFF0000FFFF)
    return x if width == 4 else (x | (x >> np.uint64(16))) & np.uint64(0xFFFFFFFF)


def is_guid(values: pd.Series) -> pd.Series:
    """Whether each value is a version-4 UUID in lower-case hex (``GUID_PATTERN``), judged on the bytes of the
    strings in numpy, eight at a time: the regex, once per row, cost a second per million rows."""
    chars = _guid_chars(values)
    if chars is None:
        return values.str.fullmatch(GUID_PATTERN).fillna(False).astype(bool)
    ok = (chars[:, _DASHES] == ord("-")).all(axis=1)
    for start, width in _HEX_WORDS:
        ok &= _hex_word(_word(chars, start, width), width)
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
    """The first 16 hex digits of each GUID as a number (characters 0-7, 9-12 and 14-17). Lower-case hex keeps
    its order in ASCII, so the numbers sort as the strings do."""
    keys = _packed(_nibbles(_word(chars, 0, 8), 8), 8) << np.uint64(32)
    keys |= _packed(_nibbles(_word(chars, 9, 4), 4), 4) << np.uint64(16)
    keys |= _packed(_nibbles(_word(chars, 14, 4), 4), 4)
    return keys


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
