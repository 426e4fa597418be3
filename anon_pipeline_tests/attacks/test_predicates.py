"""Predicate counts agree with pandas' DataFrame.query under anonymeter 1.1's (polars) rule for missing values:
a missing value matches only isna, never a comparison (pandas alone would let it match !=)."""

import numpy as np
import pandas as pd

from anon_pipeline.attacks.predicates import EQ, GE, GT, ISNA, LE, LT, NE, NOTNA, Predicates, counts
from anon_pipeline.attacks.tables import encode

OPS = {EQ: "==", NE: "!=", LT: "<", GT: ">", LE: "<=", GE: ">="}


def test_counts_match_pandas_query():
    rng = np.random.default_rng(0)
    n = 300
    df = pd.DataFrame({"num": rng.integers(0, 20, n).astype(float), "cat": rng.choice(["x", "y", "z"], n)})
    df.loc[rng.choice(n, 15, replace=False), "num"] = np.nan
    df.loc[rng.choice(n, 10, replace=False), "cat"] = None
    cols = encode([df], ["num", "cat"])
    cat_codes = dict(zip(df["cat"], cols[1].values[0]))
    terms, queries = [], []
    for _ in range(200):
        t = []
        q = []
        v = float(rng.integers(0, 20))
        op = int(rng.choice([EQ, NE, LT, GT, LE, GE, ISNA, NOTNA]))
        if op == ISNA:
            t.append((0, ISNA, 0.0)), q.append("num.isna()")
        elif op == NOTNA:
            t.append((0, NOTNA, 0.0)), q.append("num.notna()")
        else:
            t.append((0, op, v)), q.append(f"num {OPS[op]} {v} & num.notna()")
        c = str(rng.choice(["x", "y", "z"]))
        op = int(rng.choice([EQ, NE, ISNA]))
        if op == ISNA:
            t.append((1, ISNA, 0.0)), q.append("cat.isna()")
        else:
            t.append((1, op, float(cat_codes[c]))), q.append(f"cat {OPS[op]} '{c}' & cat.notna()")
        terms.append(t), queries.append(" & ".join(q))
    arr = np.array(terms)
    pred = Predicates(arr[:, :, 0].astype(np.int64), arr[:, :, 1].astype(np.int8), arr[:, :, 2])
    expected = [len(df.query(q, engine="python")) for q in queries]
    assert counts(pred, cols, 0).tolist() == expected
    assert len(set(expected)) > 10  # the predicates are varied


def test_unique_keeps_first_occurrences_in_order():
    pred = Predicates(np.array([[1], [0], [1], [2]]), np.array([[EQ], [EQ], [EQ], [GE]], dtype=np.int8),
                      np.array([[3.0], [1.0], [3.0], [0.5]]))
    out = pred.unique(limit=2)
    assert out.cols[:, 0].tolist() == [1, 0] and out.vals[:, 0].tolist() == [3.0, 1.0]


def test_record_counts_agree_with_full_counts():
    """The grouped look-up for predicates built from a table's own rows gives the full evaluation's counts,
    including the predicates it hands back to it (two numeric columns, missing numbers)."""
    from anon_pipeline.attacks.predicates import record_counts
    from anon_pipeline.attacks.singling_out import _from_records

    rng = np.random.default_rng(0)
    n = 2000
    df = pd.DataFrame({"a": rng.choice(list("abcd"), n), "b": rng.choice(list("xyz"), n),
                       "c": rng.integers(0, 30, n).astype(float), "d": rng.normal(size=n).round(1),
                       "e": rng.choice(["u", None], n)})
    df.loc[rng.choice(n, 50), "c"] = np.nan
    cols = encode([df], list(df.columns))
    medians = np.array([np.nanmedian(c.values[0]) if c.numeric else np.nan for c in cols])
    pred, rows = _from_records(cols, medians, 3000, 3, rng)
    full = counts(pred, cols, 0)
    assert (record_counts(pred, rows, cols, 0) == full).all()
    assert (full >= 1).all() and (full == 1).sum() > 10  # each matches its own record; some single it out
