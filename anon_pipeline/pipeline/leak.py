"""Finding direct-identifier values of the input anywhere in a table about to be released.

Values are compared normalised (case folded, whitespace removed), as whole cells and as the tokens of
free-text cells (split at whitespace and punctuation), so a national insurance number pasted into a kept
note column is found whether it fills the cell or sits in a sentence. The identifier values are kept as 64-bit
hashes (:class:`IdentifierIndex`, built batch by batch), and each released column's distinct values and tokens
are hashed and looked up among them, so the cost is linear in the cells and the memory in the identifier values.

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

from anon_pipeline.stats.hashing import HashSet, arrow_column, hash_strings, is_text, mix64, mostly_distinct

#: Splits free text into tokens; an identifier value is compared whole and with each token of a cell.
TOKEN_SPLIT = r"[\s,;:|()\[\]{}<>\"'`]+"
#: Identifier values shorter than this (an initial, a one-digit code) cannot identify anyone on their own.
MIN_LENGTH = 2


def normalise(values: pa.Array) -> pa.Array:
    """Case folded, spaces removed: "AB 12 34 56 C" and "ab123456c" compare equal (a literal replace: a regex
    over millions of identifier values costs seconds)."""
    return pc.replace_substring(pc.utf8_lower(pc.utf8_trim_whitespace(values)), pattern=" ", replacement="")


def _as_strings(values: pd.Series, distinct: bool | str = False) -> pa.Array:
    """The non-missing cells (or, with ``distinct``, their distinct values; with ``"unless_key"``, only when
    most are not distinct anyway) as an Arrow string array, without a round trip through Python objects; other
    types are made text after ``distinct``, the cheaper way round."""
    arr = arrow_column(values).drop_null()
    if distinct is True or (distinct == "unless_key" and not mostly_distinct(arr)):
        arr = pc.unique(arr)
    return arr if is_text(arr.type) else pc.cast(arr, pa.string())


def candidate_values(columns: Iterable[pd.Series]) -> pa.Array:
    """Every normalised string a released cell could match an identifier value by (whole cells and tokens),
    distinct: only input values among these can count in the leak check."""
    found = []
    for col in columns:
        whole, tokens = _texts_of(pc.unique(arrow_column(col).drop_null()), col.dtype)
        found += [whole] if tokens is None else [whole, pc.list_flatten(tokens)]
    return pc.unique(pa.chunked_array([pc.cast(f, pa.large_string()) for f in found], type=pa.large_string()))


def matching_cells(values: pd.Series, candidates: pa.Array, tokens: bool = False) -> pd.Series:
    """The distinct cells of ``values`` whose normalised value (or, with ``tokens``, one of whose tokens) is one
    of the ``candidates`` (``candidate_values``): all that ``IdentifierIndex`` can use of an input column, so a pass
    over the input in batches keeps only these (a few cells, not every identifier value). Compared as strings
    (Arrow's ``is_in``), not hashed: a look-up in a few candidates costs less than hashing each cell."""
    cells = _as_strings(values, distinct="unless_key")
    hit = pc.is_in(normalise(cells), value_set=candidates).to_numpy(zero_copy_only=False, writable=True)
    if tokens and len(cells):
        split = pc.split_pattern_regex(pc.utf8_lower(cells), pattern=TOKEN_SPLIT)
        token_hit = pc.is_in(pc.list_flatten(split), value_set=candidates).to_numpy(zero_copy_only=False)
        parents = pc.list_parent_indices(split).to_numpy(zero_copy_only=False)
        hit[parents[token_hit]] = True
    return pd.Series(pc.unique(cells.filter(pa.array(hit))).to_pylist(), dtype="str")


@dataclass
class ColumnLeak:
    """What one released column holds of the identifier values: counts only."""

    leaked_cells: int = 0
    excused_cells: int = 0
    excused_values: int = 0


def _candidates(released: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distinct-cell index of each candidate, hash of each normalised candidate, released cells per distinct
    cell): every distinct cell whole and, for text, each of its tokens."""
    counted = pc.value_counts(arrow_column(released).drop_null())
    return _candidates_of(counted.field("values"), counted.field("counts").to_numpy(), released.dtype)


def _counted_candidates(counts: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """As ``_candidates``, from a column's value counts (index: its distinct values)."""
    present = counts[counts.index.notna() & (counts.to_numpy() > 0)]
    return _candidates_of(arrow_column(pd.Series(present.index)), present.to_numpy(dtype=np.int64), counts.index.dtype)


def _texts_of(distinct: pa.Array, dtype) -> tuple[pa.Array, pa.ListArray | None]:
    """(each distinct cell normalised, the tokens of each, None for a column of numbers, dates or booleans): the
    strings an identifier value is compared with. Distinct values are made text after counting (cheaper); two
    that print the same count as two cells."""
    if not is_text(distinct.type):
        distinct = pc.cast(distinct, pa.string())
    # Numbers, dates and booleans have no inner tokens: comparing whole cells is enough.
    kind = dtype.categories.dtype if isinstance(dtype, pd.CategoricalDtype) else dtype
    if not (pd.api.types.is_string_dtype(kind) or pd.api.types.is_object_dtype(kind)):
        return normalise(distinct), None
    return normalise(distinct), pc.split_pattern_regex(pc.utf8_lower(distinct), pattern=TOKEN_SPLIT)


def _candidates_of(distinct: pa.Array, counts: np.ndarray, dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    whole, tokens = _texts_of(distinct, dtype)
    cells, hashes = np.arange(len(whole), dtype=np.int64), hash_strings(whole)
    if tokens is None:
        return cells, hashes, counts
    parent = pc.list_parent_indices(tokens).to_numpy(zero_copy_only=False).astype(np.int64)
    flat = hash_strings(pc.list_flatten(tokens))
    return np.concatenate([cells, parent]), np.concatenate([hashes, flat]), counts


def _own_values(values: pd.Series) -> np.ndarray:
    """Hashes of a column's own input: its normalised distinct values and the tokens of each."""
    distinct = _as_strings(values, distinct=True)
    tokens = pc.list_flatten(pc.split_pattern_regex(pc.utf8_lower(distinct), pattern=TOKEN_SPLIT))
    return np.concatenate([hash_strings(normalise(distinct)), hash_strings(tokens)])


def _first_of_runs(*sorted_keys: np.ndarray) -> np.ndarray:
    """Mask of the first row of each run of equal keys (the arrays sorted together)."""
    first = np.ones(len(sorted_keys[0]), dtype=bool)
    if len(first) > 1:
        first[1:] = np.logical_or.reduce([k[1:] != k[:-1] for k in sorted_keys])
    return first


@dataclass
class _Hits:
    """The released cells of one column that hold identifier values, grouped by the set of values each holds
    (a set's key is the wrapping sum of its members' mixed hashes): counts and hashes only, merged across
    batches, so its size is set by the distinct hit cells, not the rows."""

    keys: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    cells: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    member_keys: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    member_values: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))

    def add(self, cell: np.ndarray, value: np.ndarray, cells_per_cell: np.ndarray) -> None:
        """``cell``/``value``: the (distinct released cell, identifier hash) pairs of one batch."""
        order = np.lexsort((value, cell))
        cell, value = cell[order], value[order]
        keep = _first_of_runs(cell, value)
        cell, value = cell[keep], value[keep]
        starts = np.flatnonzero(_first_of_runs(cell))
        key = np.add.reduceat(mix64(value.copy()), starts)
        sizes = np.diff(np.append(starts, len(cell)))
        keys = np.concatenate([self.keys, key])
        self.keys, inverse = np.unique(keys, return_inverse=True)
        self.cells = np.bincount(inverse, weights=np.concatenate([self.cells, cells_per_cell[cell[starts]]]),
                                 minlength=len(self.keys)).astype(np.int64)
        member_keys = np.concatenate([self.member_keys, np.repeat(key, sizes)])
        member_values = np.concatenate([self.member_values, value])
        order = np.lexsort((member_values, member_keys))
        keep = _first_of_runs(member_keys[order], member_values[order])
        self.member_keys, self.member_values = member_keys[order][keep], member_values[order][keep]

    def leak(self, own: HashSet | None, min_shared: int) -> ColumnLeak:
        if not len(self.keys):
            return ColumnLeak()
        of_member = np.searchsorted(self.keys, self.member_keys)
        values, inverse = np.unique(self.member_values, return_inverse=True)
        # How many released cells hold each matched value (whole or as a token): the "shared by several rows" test.
        held_by = np.bincount(inverse, weights=self.cells[of_member], minlength=len(values))
        own_data = own.contains(values) if own is not None else np.zeros(len(values), dtype=bool)
        excused = own_data & (held_by >= min_shared)
        # A cell leaks when any identifier value in it is not excused.
        leaking = np.zeros(len(self.keys), dtype=bool)
        leaking[of_member[~excused[inverse]]] = True
        return ColumnLeak(leaked_cells=int(self.cells[leaking].sum()), excused_cells=int(self.cells[~leaking].sum()),
                          excused_values=int(excused.sum()))


class IdentifierIndex:
    """The direct-identifier values of an input, hashed, and what tables about to be released hold of them, both
    built batch by batch.

    ``add`` every batch of the input, then pass every batch of the released table to ``leaks``: a value is found
    in a released batch whichever input batch it came from, so every input batch must be added before the first
    ``leaks``. Memory: 8 bytes per distinct identifier value and per distinct value or token of the kept columns'
    own input, plus the released cells found, grouped by the identifier values they hold; no value is stored, only
    its 64-bit hash (``stats.hashing``): a hash collision can only report a leak that is not there, with
    probability about (identifier values) / 2^64 per released value, and never hide one.
    """

    def __init__(self, identifiers: Iterable[str], own_input: dict[str, str] | None = None, min_shared: int = 2,
                 skip: Iterable[str] = ()) -> None:
        """``identifiers``: input columns whose values are direct identifiers; ``own_input``: released column ->
        the input column it comes from (its own data, see the module docstring); ``skip``: released columns not
        searched."""
        self.identifiers = list(identifiers)
        self.own_input = dict(own_input or {})
        self.min_shared = min_shared
        self.skip = set(skip)
        self._ids = HashSet()
        self._own = {column: HashSet() for column in self.own_input}
        self._hits: dict[str, _Hits] = {}

    def add(self, raw_batch: pd.DataFrame) -> None:
        """Index the identifier values (and the kept columns' own values) of one batch of input rows."""
        for column in self.identifiers:
            if column in raw_batch.columns:
                # The hash set deduplicates anyway: ``unique`` first only pays where values repeat.
                values = normalise(_as_strings(raw_batch[column], distinct="unless_key"))
                values = values.filter(pc.greater_equal(pc.utf8_length(values), MIN_LENGTH))
                self._ids.add(hash_strings(values))
        for released, source in self.own_input.items():
            if source in raw_batch.columns:
                self._own[released].add(_own_values(raw_batch[source]))

    def leaks(self, anonymised_batch: pd.DataFrame) -> LeakReport:
        """Search one batch of the released table; returns the counts per released column over every batch
        searched so far (a value is excused only by the cells of all of them)."""
        for column in anonymised_batch.columns:
            self._search(column, lambda: _candidates(anonymised_batch[column]))
        return self.report()

    def leaks_in_counts(self, counts: dict[str, pd.Series]) -> LeakReport:
        """As ``leaks``, on the released table's value counts per column (all that the search reads of it)."""
        for column, column_counts in counts.items():
            self._search(column, lambda: _counted_candidates(column_counts))
        return self.report()

    def _search(self, column: str, candidates) -> None:
        if column in self.skip:
            return
        hits = self._hits.setdefault(column, _Hits())
        if not len(self._ids):
            return
        cell, value, counts = candidates()
        found = self._ids.contains(value)
        if found.any():
            hits.add(cell[found], value[found], counts)

    def report(self) -> LeakReport:
        return LeakReport({column: hits.leak(self._own.get(column), self.min_shared)
                           for column, hits in self._hits.items()})


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
