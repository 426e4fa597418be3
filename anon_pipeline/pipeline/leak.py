"""Finding direct-identifier values of the input anywhere in a table about to be released.

Values are compared normalised (case folded, whitespace removed), as whole cells and as the tokens of
free-text cells (split at whitespace and punctuation), so a national insurance number pasted into a kept
note column is found whether it fills the cell or sits in a sentence. Every comparison is a hash look-up
(``pyarrow.compute.is_in``) over each column's distinct values, so the cost is linear in the cells.

A coincidence is excused only narrowly: a value that is also that column's own input data *and* is held by at
least ``min_shared`` released cells of the column (a given name "Jordan" among many rows born in Jordan). Such
a value is shared by several rows, so it cannot point at one person; a value held by fewer cells is a leak
even when it is the column's own data (identifiers copied into a kept column are exactly that). Excused
values are counted, never listed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: Splits free text into tokens; an identifier value is compared whole and with each token of a cell.
TOKEN_SPLIT = r"[\s,;:|()\[\]{}<>\"'`]+"
#: Identifier values shorter than this (an initial, a one-digit code) cannot identify anyone on their own.
MIN_LENGTH = 2


def normalise(values: pa.Array) -> pa.Array:
    """Case folded, spaces removed: "AB 12 34 56 C" and "ab123456c" compare equal (a literal replace: a regex
    over millions of identifier values costs seconds)."""
    return pc.replace_substring(pc.utf8_lower(pc.utf8_trim_whitespace(values)), pattern=" ", replacement="")


def _as_strings(values: pd.Series) -> pa.Array:
    """The non-missing cells as an Arrow string array, without a round trip through Python objects."""
    arr = pa.array(values, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    arr = arr.drop_null()
    return arr if arr.type == pa.string() else pc.cast(arr, pa.string())


def identifier_values(columns: Iterable[pd.Series]) -> pa.Array:
    """Distinct normalised values of the direct-identifier columns, at least ``MIN_LENGTH`` characters long."""
    parts = [normalise(pc.unique(_as_strings(col))) for col in columns]
    if not parts:
        return pa.array([], type=pa.string())
    values = pc.unique(pa.chunked_array(parts, type=pa.string()).combine_chunks())
    return values.filter(pc.greater_equal(pc.utf8_length(values), MIN_LENGTH))


def candidate_strings(columns: Iterable[pd.Series]) -> pa.Array:
    """Every normalised string a released cell could match an identifier value by (whole cells and tokens)."""
    parts = [_candidates(col)[1] for col in columns]
    if not parts:
        return pa.array([], type=pa.string())
    return pc.unique(pa.chunked_array(parts, type=pa.string()).combine_chunks())


def matching_cells(values: pd.Series, candidates: pa.Array, tokens: bool = False) -> pd.Series:
    """The distinct cells of ``values`` whose normalised value (or, with ``tokens``, one of whose tokens) is a
    candidate: all that ``find_leaks`` can use of a column, so a pass over the input in batches keeps only these."""
    distinct = pc.unique(_as_strings(values))
    hit = pc.is_in(normalise(distinct), value_set=candidates)
    if tokens and len(distinct):
        split = pc.split_pattern_regex(pc.utf8_lower(distinct), pattern=TOKEN_SPLIT)
        token_hit = pc.is_in(pc.list_flatten(split).cast(pa.string()), value_set=candidates).to_numpy(
            zero_copy_only=False)
        parents = pc.list_parent_indices(split).to_numpy(zero_copy_only=False)
        by_token = np.zeros(len(distinct), dtype=bool)
        by_token[parents[token_hit]] = True
        hit = pc.or_(hit, pa.array(by_token))
    return pd.Series(distinct.filter(hit).to_pylist(), dtype="str")


@dataclass
class ColumnLeak:
    """What one released column holds of the identifier values: counts only."""

    leaked_cells: int = 0
    excused_cells: int = 0
    excused_values: int = 0


def _candidates(released: pd.Series) -> tuple[np.ndarray, pa.Array, np.ndarray]:
    """(distinct-cell index of each candidate, normalised candidates, released cells per distinct cell): every
    distinct cell whole and, for text, each of its tokens."""
    cells = _as_strings(released)
    encoded = pc.dictionary_encode(cells)
    distinct = encoded.dictionary
    counts = np.bincount(encoded.indices.to_numpy(zero_copy_only=False), minlength=len(distinct))
    whole = np.arange(len(distinct), dtype=np.int64)
    norm = normalise(distinct)
    # Numbers, dates and booleans have no inner tokens: comparing whole cells is enough.
    kind = released.dtype.categories.dtype if isinstance(released.dtype, pd.CategoricalDtype) else released.dtype
    if not (pd.api.types.is_string_dtype(kind) or kind == object):
        return whole, norm, counts
    tokens = pc.split_pattern_regex(pc.utf8_lower(distinct), pattern=TOKEN_SPLIT)
    parent = pc.list_parent_indices(tokens).to_numpy(zero_copy_only=False).astype(np.int64)
    flat = pc.list_flatten(tokens).cast(pa.string())
    return np.concatenate([whole, parent]), pa.concat_arrays([norm, flat]), counts


def find_leaks(columns: dict[str, tuple[pd.Series, pd.Series | None]], ids: pa.Array, min_shared: int) -> "LeakReport":
    """Leaked and excused cells of each released column; ``columns`` maps a name to (released values, the
    column's own input values or None). One hash look-up for every candidate of every column: the identifier
    set is hashed once, however many columns there are."""
    report = LeakReport({name: ColumnLeak() for name in columns})
    if len(ids) == 0 or not columns:
        return report
    parts = {name: _candidates(released) for name, (released, _) in columns.items()}
    owner = np.concatenate([np.full(len(cand[0]), i, dtype=np.int64) for i, cand in enumerate(parts.values())])
    hit = pc.is_in(pa.chunked_array([cand[1] for cand in parts.values()], type=pa.string()),
                   value_set=ids).to_numpy(zero_copy_only=False)
    values = pa.chunked_array([cand[1] for cand in parts.values()], type=pa.string()).filter(pa.array(hit))
    values = values.to_numpy() if len(values) else np.array([], dtype=object)
    cells = np.concatenate([cand[0] for cand in parts.values()])[hit]
    owners = owner[hit]
    for i, (name, (cell_idx, _, counts)) in enumerate(parts.items()):
        mine = owners == i
        if mine.any():
            report.columns[name] = _column_leak(cells[mine], values[mine], counts, columns[name][1], min_shared)
    return report


def _column_leak(cell_idx: np.ndarray, values: np.ndarray, counts: np.ndarray, own_input: pd.Series | None,
                 min_shared: int) -> ColumnLeak:
    out = ColumnLeak()
    pairs = pd.DataFrame({"cell": cell_idx, "value": values}).drop_duplicates()
    pairs["cells"] = counts[pairs["cell"].to_numpy()]
    # How many released cells hold each matched value (whole or as a token): the "shared by several rows" test.
    held_by = pairs.groupby("value")["cells"].sum()
    own = set()
    if own_input is not None:
        own_ids = set(pc.unique(normalise(_as_strings(own_input))).to_pylist())
        own_tokens = _own_tokens(own_input)
        own = {v for v in held_by.index if v in own_ids or v in own_tokens}
    excused_values = {v for v, n in held_by.items() if v in own and n >= min_shared}
    per_cell = pairs.assign(excused=pairs["value"].isin(excused_values)).groupby("cell")
    # A cell leaks when any identifier value in it is not excused.
    leaks = ~per_cell["excused"].all()
    cell_counts = per_cell["cells"].first()
    out.leaked_cells = int(cell_counts[leaks].sum())
    out.excused_cells = int(cell_counts[~leaks].sum())
    out.excused_values = len(excused_values)
    return out


def _own_tokens(values: pd.Series) -> set[str]:
    distinct = pc.unique(_as_strings(values))
    return set(pc.unique(pc.list_flatten(pc.split_pattern_regex(pc.utf8_lower(distinct), pattern=TOKEN_SPLIT)))
               .to_pylist())


@dataclass
class LeakReport:
    columns: dict[str, ColumnLeak] = field(default_factory=dict)

    @property
    def leaked_cells(self) -> int:
        return sum(c.leaked_cells for c in self.columns.values())

    @property
    def leaked_columns(self) -> list[str]:
        return [name for name, c in self.columns.items() if c.leaked_cells]

    @property
    def excused_cells(self) -> int:
        return sum(c.excused_cells for c in self.columns.values())

    @property
    def excused_values(self) -> int:
        return sum(c.excused_values for c in self.columns.values())
