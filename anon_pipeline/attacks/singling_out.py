"""Singling-out attack (Giomi et al. 2023, section 4.1; anonymeter's ``SinglingOutEvaluator``).

The attacker writes predicates that match exactly one row of the released table and wins each that matches
exactly one training record. Univariate predicates come from rare values of single columns (a value held by one
released row, the smallest or largest number, the only missing value); multivariate ones from a random
released row and ``n_cols`` random columns (``== value`` for categories, ``>= value`` above the column's median
and ``<= value`` otherwise). The naive baseline draws random predicates (random columns, values and
operators). All three tables are de-duplicated first, as anonymeter does. When the control has another size
than the training set, its success count is rescaled by a fitted model of how singling out falls with the table
size (Cohen and Nissim 2020), fitted on subsamples of the control: anonymeter's ``fit_correction_term``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from anon_pipeline.attacks.confidence import AttackResult
from anon_pipeline.attacks.predicates import (EQ, GE, ISNA, LE, NE, NOTNA, NUMERIC_OPS, Predicates, counts,
                                              match_blocks, record_counts)
from anon_pipeline.attacks.tables import Column, encode

SYN, ORI, CTL = 0, 1, 2
#: anonymeter's default is 10,000,000; a candidate with two numeric columns costs a pass over the released rows
DEFAULT_MAX_ATTEMPTS = 100_000


def univariate_predicates(columns: list[Column], n: int, rng: np.random.Generator) -> Predicates:
    """Up to ``n`` distinct one-column predicates that single out a released row, in random order."""
    cols, ops, vals = [], [], []
    for i, col in enumerate(columns):
        x, miss = col.values[SYN], col.missing[SYN]
        if miss.sum() == 1:
            cols.append(i)
            ops.append(ISNA)
            vals.append(0.0)
        present = x[~miss]
        if col.numeric and len(present):
            for op, v in ((LE, present.min()), (GE, present.max())):
                if np.sum(present == v) == 1:
                    cols.append(i)
                    ops.append(op)
                    vals.append(float(v))
        uniq, cnt = np.unique(present, return_counts=True)
        rare = uniq[cnt == 1]
        cols.extend([i] * len(rare))
        ops.extend([EQ] * len(rare))
        vals.extend(rare.astype(np.float64).tolist())
    pred = Predicates(np.array(cols, dtype=np.int64).reshape(-1, 1), np.array(ops, dtype=np.int8).reshape(-1, 1),
                      np.array(vals, dtype=np.float64).reshape(-1, 1))
    return pred.take(rng.permutation(len(pred))).unique(limit=n)


def _random_columns(n: int, n_columns: int, m: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(np.argsort(rng.random((n, n_columns)), axis=1)[:, :m], axis=1)


def _from_records(columns: list[Column], medians: np.ndarray, n: int, m: int,
                  rng: np.random.Generator) -> tuple[Predicates, np.ndarray]:
    n_rows = len(columns[0].values[SYN])
    rows = rng.integers(n_rows, size=n)
    cols = _random_columns(n, len(columns), m, rng)
    ops = np.full(cols.shape, EQ, dtype=np.int8)
    vals = np.zeros(cols.shape)
    for c, col in enumerate(columns):
        at = cols == c
        r = rows[np.nonzero(at)[0]]
        v = col.values[SYN][r].astype(np.float64)
        if col.numeric:
            with np.errstate(invalid="ignore"):
                ops[at] = np.where(v > medians[c], GE, LE)
        ops[at] = np.where(col.missing[SYN][r], ISNA, ops[at])
        vals[at] = np.where(col.missing[SYN][r], 0.0, v)
    return Predicates(cols, ops, vals), rows


def multivariate_predicates(columns: list[Column], n: int, m: int, max_attempts: int,
                            rng: np.random.Generator) -> tuple[Predicates, int]:
    """Up to ``n`` distinct ``m``-column predicates singling out a released row, and the attempts made.

    Candidates are drawn in batches and kept in drawing order, so the result is distributed as anonymeter's
    one-at-a-time loop that stops at the n-th distinct success.
    """
    medians = np.array([np.nanmedian(c.values[SYN]) if c.numeric and (~c.missing[SYN]).any() else np.nan
                        for c in columns])
    found: Predicates | None = None
    attempts = successes = 0
    groupings: dict = {}
    while (found is None or len(found) < n) and attempts < max_attempts:
        need = n - (0 if found is None else len(found))
        rate = successes / attempts if attempts else 0.25
        batch = int(min(max(need / max(rate, 1e-3) * 1.5, 256), 50_000, max_attempts - attempts))
        cand, rows = _from_records(columns, medians, batch, m, rng)
        attempts += batch
        hit = record_counts(cand, rows, columns, SYN, groupings) == 1
        successes += int(hit.sum())
        parts = ([found] if found is not None else []) + [cand.take(np.flatnonzero(hit))]
        found = Predicates.concat(parts).unique(limit=n)
    return found if found is not None else _empty(m), attempts


def _empty(m: int) -> Predicates:
    return Predicates(np.zeros((0, m), np.int64), np.zeros((0, m), np.int8), np.zeros((0, m)))


def baseline_predicates(columns: list[Column], n: int, m: int, rng: np.random.Generator) -> Predicates:
    """Random predicates: random columns, a random distinct released value each, a random operator."""
    cols = _random_columns(n, len(columns), m, rng)
    ops = np.zeros(cols.shape, dtype=np.int8)
    vals = np.zeros(cols.shape)
    for c, col in enumerate(columns):
        at = cols == c
        k = int(at.sum())
        if not k:
            continue
        values = col.values[SYN]
        uniq = np.unique(values[~col.missing[SYN]]).astype(np.float64)
        n_choices = len(uniq) + int(col.missing[SYN].any())
        pick = rng.integers(max(n_choices, 1), size=k)
        is_na = pick >= len(uniq)
        if col.numeric:
            op = NUMERIC_OPS[rng.integers(len(NUMERIC_OPS), size=k)]
        else:
            op = np.where(rng.random(k) < 0.5, EQ, NE).astype(np.int8)
        ops[at] = np.where(is_na, np.where(rng.random(k) < 0.5, ISNA, NOTNA), op)
        vals[at] = np.where(is_na, 0.0, uniq[np.minimum(pick, max(len(uniq) - 1, 0))] if len(uniq) else 0.0)
    return Predicates(cols, ops, vals)


def _probability_integral(n, w):
    """Integral over the weight 0..w of P(a query of weight w singles out among n rows) = n w (1 - w)^(n - 1)."""
    return (1.0 - (n * w + 1.0) * (1.0 - w) ** n) / (n + 1.0)


def _model(x, w_eff, scale):
    return scale * _probability_integral(x, w_eff)


def control_size_correction(pred: Predicates, columns: list[Column], n_original: int,
                            rng: np.random.Generator) -> float | None:
    """Factor by which singling-out successes on the control are rescaled to the training set's size
    (anonymeter's ``fit_correction_term``: 10 sizes x 5 subsamples of the control); None when the fit fails.

    Two departures from anonymeter, both where its fit is ill-posed: its smallest subsample is min(1000,
    control rows), so a control of 1000 rows or fewer gives ten equal sizes (ours starts at half the control
    there; identical above 2000 rows); and the fit's starting point (below).
    """
    n_rows = len(columns[0].values[CTL])
    sizes = np.repeat(np.linspace(min(1000, max(n_rows // 2, 1)), n_rows, 10).astype(int), 5)
    samples = [rng.choice(n_rows, size=s, replace=False) for s in sizes]
    singled = np.zeros(len(samples))
    for _, mask in match_blocks(pred, columns, CTL):
        for i, idx in enumerate(samples):
            singled[i] += np.sum(mask[:, idx].sum(axis=1) == 1)
    w0 = 1.0 / sizes.max()
    # anonymeter starts from a scale that predicts one success at the largest size whatever the data, from
    # where the fit often collapses to w_eff ~ 1 (successes falling as 1/n); starting at the observed level
    # recovers the known size ratio on tables of queries of equal weight (tested).
    level = max(float(singled[sizes == sizes.max()].mean()), 1.0)
    p0 = (w0, level / _probability_integral(sizes.max(), w0))
    from scipy.optimize import OptimizeWarning, curve_fit  # imported on use: a second at start-up otherwise

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            popt, _ = curve_fit(_model, sizes.astype(float), singled, p0=p0, bounds=(0, (1, np.inf)))
    except (RuntimeError, ValueError):
        return None
    denominator = _model(float(n_rows), *popt)
    return float(_model(float(n_original), *popt) / denominator) if denominator > 0 else None


def singling_out(original: pd.DataFrame, released: pd.DataFrame, control: pd.DataFrame | None,
                 columns: list[str], mode: str, n_attacks: int, rng: np.random.Generator, n_cols: int = 3,
                 max_attempts: int = DEFAULT_MAX_ATTEMPTS, confidence_level: float = 0.95) -> AttackResult:
    if mode not in ("univariate", "multivariate"):
        raise ValueError(f"mode must be 'univariate' or 'multivariate', got {mode!r}")
    m = 1 if mode == "univariate" else min(n_cols, len(columns))
    frames = [released[columns].drop_duplicates(), original[columns].drop_duplicates()]
    if control is not None:
        frames.append(control[columns].drop_duplicates())
    cols = encode(frames, columns)
    baseline = baseline_predicates(cols, n_attacks, m, rng)
    n_baseline = int(np.sum(counts(baseline, cols, ORI) == 1))
    if mode == "univariate":
        pred, attempts = univariate_predicates(cols, n_attacks, rng), None
    else:
        pred, attempts = multivariate_predicates(cols, n_attacks, m, max_attempts, rng)
    n_success = int(np.sum(counts(pred, cols, ORI) == 1))
    details: dict[str, Any] = {"mode": mode, "n_cols": m, "queries": len(pred), "attempts": attempts,
               "rows_deduplicated": {"released": len(frames[SYN]), "original": len(frames[ORI])}}
    n_control: float | None = None
    if control is not None:
        details["rows_deduplicated"]["control"] = len(frames[CTL])
        n_control = float(np.sum(counts(pred, cols, CTL) == 1))
        correction = 1.0
        if len(frames[CTL]) != len(frames[ORI]) and n_control > 0 and len(pred):
            fitted = control_size_correction(pred, cols, len(frames[ORI]), rng)
            correction = fitted if fitted is not None else 1.0
            details["control_correction_failed"] = fitted is None
        details["control_correction"] = correction
        n_control *= correction
    return AttackResult(f"singling_out_{mode}", n_attacks, n_success, n_baseline, n_control, confidence_level,
                        details)
