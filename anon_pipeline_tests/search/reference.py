"""An independent, deliberately naive reference: every lattice node generalised with pandas and scored.

Written from the ARX definitions (not from our search's code) so the tests compare two implementations.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd


def generalise(df: pd.DataFrame, hierarchies: dict[str, pd.DataFrame], levels: tuple[int, ...]) -> pd.DataFrame:
    out = df.copy()
    for (col, h), lv in zip(hierarchies.items(), levels):
        out[col] = df[col].astype(str).map(dict(zip(h[0].astype(str), h[lv].astype(str))))
    return out


def evaluate(df, hierarchies, levels, *, k=None, l=None, l_variant="distinct", sensitive=None, t=None,
             t_variant="equal", suppression_limit=0.0, quality="loss"):
    """(anonymous, score, suppressed rows) of one node."""
    cols = list(hierarchies)
    n = len(df)
    g = generalise(df, hierarchies, levels)
    key = g[cols].astype(str).agg("\x1f".join, axis=1)
    fail = {}
    q = df[sensitive].value_counts(normalize=True) if sensitive else None
    for cls, rows in g.groupby(key):
        size = len(rows)
        bad = size < max(k or 1, math.ceil(l) if l else 1)
        if l is not None:
            counts = rows[sensitive].value_counts()
            if len(counts) < math.ceil(l):
                bad = True
            if l_variant == "entropy":
                p = counts / size
                if -(p * np.log2(p)).sum() < math.log2(l) - 1e-12:
                    bad = True
        if t is not None:
            if t_variant == "equal":
                p = rows[sensitive].value_counts(normalize=True).reindex(q.index, fill_value=0.0)
                distance = 0.5 * (p - q).abs().sum()
            else:  # ordered: cumulative differences over the sorted domain, / (m - 1)
                order = q.sort_index()
                p = rows[sensitive].value_counts(normalize=True).reindex(order.index, fill_value=0.0)
                distance = (p - order).cumsum().abs().sum() / max(len(order) - 1, 1)
            if distance > t + 1e-12:
                bad = True
        fail[cls] = bad
    outlier = key.map(fail).to_numpy(dtype=bool)
    suppressed = int(outlier.sum())
    anonymous = suppressed <= math.floor(suppression_limit * n)
    return anonymous, score(df, g, hierarchies, levels, outlier, key, quality), suppressed


def score(df, g, hierarchies, levels, outlier, key, quality):
    n = len(df)
    cols = list(hierarchies)
    if quality == "height":
        return float(sum(levels))
    if quality == "precision":
        per = []
        for (col, h), lv in zip(hierarchies.items(), levels):
            height = h.shape[1] - 1
            ratio = lv / height if height else 0.0
            per.append(((n - outlier.sum()) * ratio + outlier.sum()) / n)
        return float(np.mean(per))
    if quality in ("nu_entropy", "nu_entropy_nm"):
        total = 0.0
        for col in cols:
            a = df[col].astype(str).value_counts()
            b = g[col].value_counts()
            gen = dict(zip(df[col].astype(str), g[col]))
            total += sum(-cnt * math.log2(cnt / b[gen[v]]) for v, cnt in a.items())
            if quality == "nu_entropy_nm" and outlier.any():
                c = g.loc[outlier, col].value_counts()
                s = outlier.sum()
                total += sum(-x * math.log2(x / s) for x in c)
        return total
    if quality == "loss":
        vals = []
        for (col, h), lv in zip(hierarchies.items(), levels):
            size = len(h)
            share = h[lv].map(h[lv].value_counts()) / size
            share_of = dict(zip(h[0].astype(str), share))
            s = df[col].astype(str).map(share_of).to_numpy(dtype=float)
            s = np.where(outlier, 1.0, s)
            lo = n / size
            vals.append(max(0.0, (s.sum() - lo) / (n - lo)) if n > lo else 0.0)
        return float(np.prod([(v + 1) ** (1 / len(vals)) for v in vals]) - 1)
    sizes = key.value_counts()
    out_cls = set(key[outlier])
    if quality == "discernibility":
        return float(sum(s * s if c not in out_cls else s * n for c, s in sizes.items()))
    if quality == "aecs":
        kept = sum(1 for c in sizes.index if c not in out_cls)
        return n / (kept + (1 if out_cls else 0))
    raise ValueError(quality)


def exhaustive(df, hierarchies, **kw):
    """All anonymous nodes with their scores: {levels: score}."""
    ranges = [range(h.shape[1]) for h in hierarchies.values()]
    out = {}
    for levels in itertools.product(*ranges):
        anonymous, s, _ = evaluate(df, hierarchies, levels, **kw)
        if anonymous:
            out[levels] = s
    return out
