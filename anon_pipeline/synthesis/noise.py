"""Gaussian noise addition, the baseline Borisov et al. (2023) compare synthesis with (scale = a fraction of sigma).

Each row's normal draw is a function of the plan seed and the row's GUID alone (``row_normals``): a counter-based
generator keyed by the row, so a row gets the same noise whichever batch, bucket or worker applies the plan.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from anon_pipeline.stats.hashing import hash_values, mix64

_U = np.uint64
#: Two fixed odd constants that separate the two uniforms of a row's Box-Muller pair.
_SALTS = (_U(0x9E3779B97F4A7C15), _U(0xD1B54A32D192ED03))


def add_noise(values: np.ndarray, sigma: float, fraction: float, rng: np.random.Generator | None = None, *,
              normals: np.ndarray | None = None) -> np.ndarray:
    """values + fraction * sigma * N(0, 1), one draw per row (missing values stay missing): ``normals`` given, or
    drawn from ``rng`` by position."""
    values = np.asarray(values, dtype=float)
    if normals is None:
        assert rng is not None, "add_noise draws from rng when no normals are given"
        normals = rng.standard_normal(values.shape)
    z = normals
    return values + fraction * sigma * z


def _uniform(key: np.ndarray, seed: np.uint64, salt: np.uint64) -> np.ndarray:
    """A uniform in (0, 1) per key: murmur3's finaliser twice over key, seed and salt, its top 53 bits."""
    with np.errstate(over="ignore"):
        h = mix64(key ^ seed)
        h = mix64(h + salt)
    return ((h >> _U(11)).astype(np.float64) + 0.5) * 2.0 ** -53


def row_normals(seed: int, guids: pd.Series) -> np.ndarray:
    """One standard normal per row from (``seed``, the row's GUID): Box-Muller on two hashed uniforms. Vectorised;
    a row's draw owes nothing to the other rows or their order."""
    key = hash_values(guids)
    if len(key) != len(guids):
        raise ValueError("every row needs a GUID to draw its noise")
    s = mix64(np.array([seed % 2**64], dtype=_U))[0]
    u1, u2 = _uniform(key, s, _SALTS[0]), _uniform(key, s, _SALTS[1])
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
