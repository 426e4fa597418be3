"""Kullback-Leibler divergence exactly as Borisov, Bosov and Ivanov (2023) define it.

Discrete: D = sum_l p^_l ln(p^_l / p_l) over the raw data's distinct tuples x_l (p_l > 0 by construction;
terms with p^_l = 0 are 0; anonymised tuples absent from the raw data are outside the sum and their mass is
reported as ``mass_outside_raw``).

Continuous (and mixed): D = integral f^ ln(f^ / f) between the Silverman KDE f^ of the anonymised data and f
of the raw data, estimated by Monte Carlo: draw M points from f^, average ln f^(x) - ln f(x), and report the
standard error std / sqrt(M). Discrete attributes of a mixed group enter through an exact-match kernel.
Cost bound: each KDE uses at most ``max_centres`` kernel centres; a larger table is replaced by a uniform
random subsample of that size with its own Silverman bandwidth (an estimate of the same density), so the
cost is M x max_centres x m whatever N is. MC points whose discrete tuple the raw data lacks are left out,
as in the discrete sum, and their share is reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from anon_pipeline.stats.floats import as_float
from anon_pipeline.stats.kde import log_density, sample_mixture, silverman_bandwidth
from anon_pipeline.utility.sampling import order_free_subsample

DEFAULT_MC_SAMPLES = 2000
DEFAULT_MAX_CENTRES = 10_000


@dataclass(frozen=True)
class KL:
    value: float
    method: str                      # "discrete" | "monte_carlo"
    standard_error: float = 0.0
    mc_samples: int = 0
    centres_raw: int = 0
    centres_anon: int = 0
    mass_outside_raw: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def kl_from_frequencies(p_anon: np.ndarray, p_raw: np.ndarray) -> float:
    """sum p^ ln(p^ / p) over entries with p > 0; terms with p^ = 0 contribute 0."""
    p_anon = np.asarray(p_anon, dtype=float)
    p_raw = np.asarray(p_raw, dtype=float)
    use = (p_raw > 0) & (p_anon > 0)
    return float(np.sum(p_anon[use] * np.log(p_anon[use] / p_raw[use])))


def _sorted_codes(values: pd.Series) -> np.ndarray:
    """Codes in the sorted order of the values (missing last), so they do not depend on row order."""
    try:
        codes, _ = pd.factorize(values, sort=True, use_na_sentinel=False)
    except TypeError:            # values of mixed types: order them by their text form
        codes, _ = pd.factorize(values.astype(str), sort=True, use_na_sentinel=False)
    return codes.astype(np.int64)


def _joint_codes(raw: pd.DataFrame, anon: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Tuple codes shared by both frames (a tuple has the same code in raw and anon), independent of row order."""
    codes = np.zeros(len(raw) + len(anon), dtype=np.int64)
    for col in columns:
        col_codes = _sorted_codes(pd.concat([raw[col], anon[col]], ignore_index=True))
        # Mixed radix, re-densified in sorted order (so still order-free) to keep it from overflowing.
        codes = codes * (int(col_codes.max(initial=0)) + 1) + col_codes
        codes = pd.factorize(codes, sort=True)[0].astype(np.int64)
    return codes[:len(raw)], codes[len(raw):]


def kl_discrete(raw: pd.DataFrame, anon: pd.DataFrame, columns: list[str]) -> KL:
    raw_codes, anon_codes = _joint_codes(raw, anon, columns)
    size = int(max(raw_codes.max(initial=-1), anon_codes.max(initial=-1)) + 1)
    p_raw = np.bincount(raw_codes, minlength=size) / max(len(raw_codes), 1)
    p_anon = np.bincount(anon_codes, minlength=size) / max(len(anon_codes), 1)
    outside = float(p_anon[p_raw == 0].sum())
    return KL(value=kl_from_frequencies(p_anon, p_raw), method="discrete", mass_outside_raw=outside)


def _prepared(data: np.ndarray, codes: np.ndarray, max_centres: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Complete rows, at most ``max_centres`` of them, in a canonical order: the estimate then depends on the
    seed and on the data, never on the row order the caller happens to pass (a pipeline may shuffle rows)."""
    ok = ~np.isnan(data).any(axis=1)
    data, codes = data[ok], codes[ok]
    pick = order_free_subsample(data, codes, max_centres, seed)
    data, codes = data[pick], codes[pick]
    order = np.lexsort((*data.T[::-1], codes))
    return data[order], codes[order]


def kl_continuous(raw: pd.DataFrame, anon: pd.DataFrame, continuous: list[str], discrete: Sequence[str] = (),
                  *, mc_samples: int = DEFAULT_MC_SAMPLES, max_centres: int = DEFAULT_MAX_CENTRES,
                  seed: int = 0) -> KL:
    """Monte Carlo KL between the anonymised and raw Silverman KDEs of a continuous (or mixed) group."""
    rng = np.random.default_rng(seed)
    discrete = list(discrete)
    raw_codes, anon_codes = _joint_codes(raw, anon, discrete) if discrete else \
        (np.zeros(len(raw), np.int64), np.zeros(len(anon), np.int64))
    raw_x, raw_codes = _prepared(np.column_stack([as_float(raw[c]) for c in continuous]), raw_codes,
                                 max_centres, seed)
    anon_x, anon_codes = _prepared(np.column_stack([as_float(anon[c]) for c in continuous]), anon_codes,
                                   max_centres, seed + 1)
    # Bandwidths from the (possibly subsampled) sets themselves: each is the Silverman KDE of what it holds.
    # Degenerate (constant) columns get a tiny bandwidth so the density stays defined.
    scale = np.nanstd(np.vstack([raw_x, anon_x]), axis=0)
    floor = np.where(scale > 0, scale * 1e-9, 1e-9)
    h_raw = np.maximum(silverman_bandwidth(raw_x), floor)
    h_anon = np.maximum(silverman_bandwidth(anon_x), floor)
    points, tau = sample_mixture(anon_x, h_anon, mc_samples, rng)
    point_codes = anon_codes[tau]
    known = np.isin(point_codes, raw_codes)
    log_anon = log_density(anon_x, h_anon, points[known], centre_groups=anon_codes if discrete else None,
                           point_groups=point_codes[known] if discrete else None)
    log_raw = log_density(raw_x, h_raw, points[known], centre_groups=raw_codes if discrete else None,
                          point_groups=point_codes[known] if discrete else None)
    # With discrete attributes the density is f(d, x) = (1/N) sum_{i: d_i = d} K_h(x - x_i): the exact-match
    # kernel times the Gaussian, normalised by all N centres, so it sums over d and integrates over x to 1.
    diff = log_anon - log_raw
    m = len(diff)
    value = float(diff.mean()) if m else float("nan")
    se = float(diff.std(ddof=1) / np.sqrt(m)) if m > 1 else float("nan")
    return KL(value=value, method="monte_carlo", standard_error=se, mc_samples=m, centres_raw=len(raw_x),
              centres_anon=len(anon_x), mass_outside_raw=float(1.0 - known.mean()))
