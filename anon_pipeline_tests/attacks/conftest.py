"""Tables whose attack outcome is known: a population of people with two continuous measurements (unique per
person) and a few categories. A release that copies the training rows leaks everything; a release drawn from
the same distribution with another seed leaks nothing about the training rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def people(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "height": rng.normal(170, 10, n).round(3),
        "weight": rng.normal(70, 12, n).round(3),
        "region": rng.choice(["north", "south", "east", "west"], n),
        "sex": rng.choice(["F", "M"], n),
        "age": rng.integers(18, 90, n),
        # independent of everything else: only a copy of the training rows reveals it
        "diagnosis": rng.choice(["a", "b", "c"], n),
    })


@pytest.fixture(scope="module")
def split():
    """(training, control, independent release): three disjoint draws of the same distribution, of one size
    (singling-out rescales a control of another size by a fitted model, tested on its own)."""
    return people(1200, 1), people(1200, 2), people(1200, 3)
