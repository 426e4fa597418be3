"""Privacy of synthetic rows: does a synthetic row copy a real one?

- Reproductions: synthetic rows equal to some raw row on the quasi-identifiers, and the risky subset equal to
  a raw row that was unique there (discrete synthesis copies real rare combinations; ``min_count`` in the
  discrete template removes them).
- Distance to closest record (continuous groups): Euclidean distance, in sigma units of the raw data, from
  each synthetic row to its nearest raw row (scipy cKDTree), as median and 5th percentile, each divided by
  the same statistic of raw-to-raw nearest-neighbour distances (a ratio well below 1 means synthetic rows sit
  closer to real people than real people sit to each other). Both are computed on at most ``max_rows`` rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from anon_pipeline.metrics.k_anonymity import encode_codes
from anon_pipeline.stats.floats import as_float
from anon_pipeline.utility.sampling import order_free_subsample

DEFAULT_MAX_ROWS = 200_000


@dataclass(frozen=True)
class Reproductions:
    columns: list[str]
    synthetic_rows: int
    reproduce_raw: int           # synthetic rows whose tuple occurs in the raw data
    reproduce_unique_raw: int    # ... whose tuple occurs exactly once in the raw data
    raw_unique_tuples: int
    raw_unique_tuples_reproduced: int

    def as_dict(self) -> dict:
        return asdict(self)


def reproductions(raw: pd.DataFrame, synthetic: pd.DataFrame, columns: list[str]) -> Reproductions:
    both = pd.concat([raw[columns], synthetic[columns]], ignore_index=True)
    codes = encode_codes(both, list(columns))
    raw_codes, syn_codes = codes[:len(raw)], codes[len(raw):]
    raw_counts = np.bincount(raw_codes, minlength=int(codes.max(initial=-1)) + 1)
    hit = raw_counts[syn_codes]
    unique = raw_counts == 1
    return Reproductions(columns=list(columns), synthetic_rows=len(synthetic),
                         reproduce_raw=int(np.sum(hit > 0)), reproduce_unique_raw=int(np.sum(hit == 1)),
                         raw_unique_tuples=int(unique.sum()),
                         raw_unique_tuples_reproduced=int(np.sum(unique & (np.bincount(
                             syn_codes, minlength=len(raw_counts)) > 0))))


@dataclass(frozen=True)
class ClosestRecord:
    columns: list[str]
    rows_measured: int
    median: float
    p05: float
    raw_median: float
    raw_p05: float

    @property
    def median_ratio(self) -> float:
        return self.median / self.raw_median if self.raw_median > 0 else float("inf")

    @property
    def p05_ratio(self) -> float:
        return self.p05 / self.raw_p05 if self.raw_p05 > 0 else float("inf")

    def as_dict(self) -> dict:
        return {**asdict(self), "median_ratio": self.median_ratio, "p05_ratio": self.p05_ratio,
                "units": "raw sigma per column, Euclidean"}


def closest_record(raw: pd.DataFrame, synthetic: pd.DataFrame, columns: list[str], *,
                   max_rows: int = DEFAULT_MAX_ROWS, seed: int = 0) -> ClosestRecord:
    raw_x = np.column_stack([as_float(raw[c]) for c in columns])
    syn_x = np.column_stack([as_float(synthetic[c]) for c in columns])
    raw_x = raw_x[~np.isnan(raw_x).any(axis=1)]
    syn_x = syn_x[~np.isnan(syn_x).any(axis=1)]
    sigma = raw_x.std(axis=0)
    sigma[sigma == 0] = 1.0
    raw_x, syn_x = raw_x / sigma, syn_x / sigma
    from scipy.spatial import cKDTree  # imported on use: scipy.spatial costs a second at start-up

    tree = cKDTree(raw_x)
    # Subsamples keyed on the rows' values, so the figures do not depend on the row order given.
    probe_syn = syn_x[order_free_subsample(syn_x, None, max_rows, seed)]
    probe_raw = raw_x[order_free_subsample(raw_x, None, max_rows, seed + 1)]
    d_syn, _ = tree.query(probe_syn, k=1, workers=-1)
    # k=2: the first hit of a raw row is itself (or an exact duplicate, distance 0, which is what we want).
    d_raw, _ = tree.query(probe_raw, k=2, workers=-1)
    d_raw = d_raw[:, 1]
    return ClosestRecord(columns=list(columns), rows_measured=len(probe_syn),
                         median=float(np.median(d_syn)), p05=float(np.percentile(d_syn, 5)),
                         raw_median=float(np.median(d_raw)), raw_p05=float(np.percentile(d_raw, 5)))


def privacy_report(raw: pd.DataFrame, synthetic: pd.DataFrame, quasi_identifiers: list[str],
                   continuous_groups: Sequence[list[str]] = (), *, max_rows: int = DEFAULT_MAX_ROWS,
                   seed: int = 0) -> dict:
    """Reproductions over all quasi-identifiers, and closest-record distances per continuous group."""
    return {"reproductions": reproductions(raw, synthetic, list(quasi_identifiers)).as_dict(),
            "closest_record": [closest_record(raw, synthetic, list(g), max_rows=max_rows, seed=seed).as_dict()
                               for g in continuous_groups]}


#: Rounds of re-drawing rows that copy a unique training row before the rest are filled from accepted rows.
REDRAW_ROUNDS = 10


def unique_copy_mask(train: pd.DataFrame, synthetic: pd.DataFrame, columns: list[str] | None = None) -> np.ndarray:
    """True for every synthetic row equal, on ``columns`` (default: all of ``train``'s), to a training row whose
    tuple occurs exactly once in ``train`` (missing equals missing)."""
    cols = list(train.columns) if columns is None else list(columns)
    codes = encode_codes(pd.concat([train[cols], synthetic[cols]], ignore_index=True), cols)
    counts = np.bincount(codes[:len(train)], minlength=int(codes.max(initial=-1)) + 1)
    return counts[codes[len(train):]] == 1


def draw_refusing_unique_copies(train: pd.DataFrame, draw, n: int, rng: np.random.Generator, *,
                                refuse: bool) -> tuple[pd.DataFrame, dict]:
    """``draw(m)`` -> m synthetic rows; returns n rows and the counts of copies of unique training rows.

    With ``refuse``, rows that copy a unique training row are replaced by fresh draws that do not (up to
    ``REDRAW_ROUNDS`` rounds of drawing; one usually suffices); any still copying one after that are replaced
    by rows drawn uniformly from the accepted ones. Either way the result is a draw conditioned on "not a copy
    of a unique training row": those tuples get probability zero and their mass goes to the rest in proportion.
    """
    drawn = [draw(n).reset_index(drop=True)]
    pick = np.arange(n)            # row of the concatenated draws each output row takes
    flagged = unique_copy_mask(train, drawn[0])
    counts = {"unique_copies_drawn": int(flagged.sum()), "refused": bool(refuse), "redraw_rounds": 0,
              "filled_from_accepted": 0}
    offset = n
    # Each round draws enough rows (at the first draw's acceptance rate, and no more than n) to replace every
    # flagged row at once; accepted ones replace flagged rows in order (i.i.d. draws of the conditioned law).
    accept = max(1.0 - flagged.mean(), 0.05) if n else 1.0
    while refuse and flagged.any() and counts["redraw_rounds"] < REDRAW_ROUNDS:
        counts["redraw_rounds"] += 1
        where = np.flatnonzero(flagged)
        fresh = draw(min(int(np.ceil(1.2 * len(where) / accept)), n) + 8).reset_index(drop=True)
        good = np.flatnonzero(~unique_copy_mask(train, fresh))[:len(where)]
        drawn.append(fresh)
        pick[where[:len(good)]] = offset + good
        flagged[where[:len(good)]] = False
        offset += len(fresh)
    if refuse and flagged.any():
        accepted = np.flatnonzero(~flagged)
        if len(accepted) == 0:
            raise ValueError("every drawn row copies a unique training row; nothing to keep")
        where = np.flatnonzero(flagged)
        pick[where] = pick[rng.choice(accepted, size=len(where))]
        counts["filled_from_accepted"] = int(len(where))
        flagged[:] = False
    counts["unique_copies_released"] = int(flagged.sum())
    if len(drawn) == 1 and not counts["filled_from_accepted"]:
        return drawn[0], counts
    pool = drawn[0] if len(drawn) == 1 else pd.concat(drawn, ignore_index=True)
    return pool.iloc[pick].reset_index(drop=True), counts
