"""``Grouper`` rolls coarser nodes up from cached finer tables: every node's class table, whatever table it was
grouped from, equals a plain pandas group-by of the generalised data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anon_pipeline.hierarchies.encoded import EncodedHierarchy
from anon_pipeline.search.grouping import Grouper
from anon_pipeline_tests.search.test_optimal_small import HIER, table


def reference(df: pd.DataFrame, hierarchies: list[EncodedHierarchy], codes: np.ndarray, levels, sensitive,
              weights: np.ndarray) -> dict:
    """(node-level codes..., sensitive code) -> rows, by pandas on the data itself."""
    frame = pd.DataFrame({h.column: h.level_codes[lv][codes[:, j]]
                          for j, (h, lv) in enumerate(zip(hierarchies, levels))})
    keys = list(frame.columns)
    if sensitive is not None:
        frame["_s"] = sensitive
        keys.append("_s")
    frame["_w"] = weights
    counts = frame.groupby(keys)["_w"].sum()
    return {tuple(int(v) for v in (k if isinstance(k, tuple) else (k,))): float(c) for k, c in counts.items()}


def grouped(groups, with_sensitive: bool) -> dict:
    codes = groups.node_codes
    t = groups.table
    out = {}
    for i in range(len(t.counts)):
        key = tuple(int(v) for v in codes[i]) + ((int(t.sens[i]),) if with_sensitive else ())
        assert key not in out  # one table row per (class, sensitive value)
        out[key] = float(t.counts[i])
    return out


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("with_sensitive", [False, True])
@pytest.mark.parametrize("cache_rows", [1, 40, 1_000_000])
def test_every_node_equals_a_group_by_of_the_data(seed, with_sensitive, cache_rows):
    df = table(seed, n=200)
    hierarchies = [EncodedHierarchy.build(c, h) for c, h in HIER.items()]
    codes = np.stack([h.encode(df[c]) for h, c in zip(hierarchies, HIER)], axis=1)
    rng = np.random.default_rng(seed)
    weights = rng.integers(1, 4, len(df))
    sensitive, n_sensitive = (pd.factorize(df["disease"])[0].astype(np.int64), 4) if with_sensitive else (None, 0)
    grouper = Grouper(hierarchies, codes, sensitive, n_sensitive, cache_rows=cache_rows, cache_entries=6,
                      weights=weights)
    nodes = np.indices([h.height + 1 for h in hierarchies]).reshape(len(hierarchies), -1).T
    # every node, in random order and twice over: sources change as the cache fills and evicts
    for levels in [*nodes[rng.permutation(len(nodes))], *nodes[rng.permutation(len(nodes))]]:
        levels = tuple(int(v) for v in levels)
        groups = grouper.group(levels)
        assert grouped(groups, with_sensitive) == reference(df, hierarchies, codes, levels, sensitive, weights)
        assert np.array_equal(np.bincount(groups.table.cls, weights=groups.table.counts), groups.table.sizes)
    assert len(grouper._cache) > 1 or cache_rows == 1  # roll-ups were exercised


def test_a_node_is_grouped_from_a_cached_table_only_when_it_has_under_half_the_base_tables_rows():
    df = table(0, n=200)
    hierarchies = [EncodedHierarchy.build(c, h) for c, h in HIER.items()]
    codes = np.stack([h.encode(df[c]) for h, c in zip(hierarchies, HIER)], axis=1)
    grouper = Grouper(hierarchies, codes, None)
    base_rows = len(grouper._cache[grouper._base_key][1])
    nodes = [tuple(int(v) for v in lv) for lv in
             np.indices([h.height + 1 for h in hierarchies]).reshape(len(hierarchies), -1).T]
    for levels in nodes:
        grouper.group(levels)
    for levels in nodes:
        rows = len(grouper._source(levels)[1])
        finer = [len(t[1]) for lv, t in grouper._cache.items() if all(a <= b for a, b in zip(lv, levels))]
        # the smallest finer table when it halves the base; the base itself otherwise (no gather)
        assert rows == (min(finer) if 2 * min(finer) < base_rows else base_rows)
