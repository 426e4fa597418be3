"""Gaussian noise addition, the baseline Borisov et al. (2023) compare synthesis with (scale = a fraction of sigma)."""

from __future__ import annotations

import numpy as np


def add_noise(values: np.ndarray, sigma: float, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """values + fraction * sigma * N(0, 1), one draw per row (missing values stay missing)."""
    values = np.asarray(values, dtype=float)
    return values + fraction * sigma * rng.standard_normal(values.shape)
