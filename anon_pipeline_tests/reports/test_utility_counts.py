"""The utility report's per-column figures from one value count per side (all it keeps of a table: its counts,
``metrics.counted``) equal those counted the plain way (text conversion, ``nunique``, a second ``value_counts``,
mean and standard deviation of the rows), on the column types that differ in how they count."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anon_pipeline.reports.utility import MAX_CATEGORIES_LISTED, _distribution, _side, entropy_bits

rng = np.random.default_rng(4)
N = 400
COLUMNS = {
    "text_with_missing": pd.Series(rng.choice(["a", "b", "<missing>", None], N), dtype="str"),
    "many_texts": pd.Series([f"v{i}" for i in rng.integers(0, 300, N)], dtype="str"),
    "about_the_limit": pd.Series([f"v{i}" if i else None for i in rng.integers(0, MAX_CATEGORIES_LISTED + 1, N)],
                                 dtype="str"),
    "floats": pd.Series(np.where(rng.random(N) < .1, np.nan, rng.integers(0, 80, N) / 4)),
    "dates": pd.Series(pd.to_datetime("2000-01-01") + pd.to_timedelta(rng.integers(0, 200, N), unit="D")),
    "categorical": pd.Series(pd.Categorical(rng.choice(["lo", "hi", None], N), categories=["lo", "hi", "unused"])),
    "mixed_objects": pd.Series(rng.choice(np.array([1, "1", 2.5, None], dtype=object), N), dtype=object),
    "nullable_ints": pd.array(rng.choice([1, 2, 3, None], N), dtype="Int64"),
}


def _plain_distribution(values: pd.Series, min_count: int) -> dict[str, int] | None:
    counts = values.astype("str").fillna("<missing>").value_counts(dropna=False)
    if len(counts) > MAX_CATEGORIES_LISTED:
        return None
    out = {str(k): int(v) for k, v in counts[counts >= min_count].sort_index().items()}
    if (counts < min_count).any():
        out["<categories with fewer than 5 rows>"] = int(counts[counts < min_count].sum())
    return out


@pytest.mark.parametrize("name", list(COLUMNS))
def test_one_count_gives_the_plain_figures(name):
    values = pd.Series(COLUMNS[name], name=name)
    counts = values.value_counts(dropna=False)
    side = _side(counts, values.dtype)
    assert side["distinct"] == values.nunique(dropna=True) and side["missing"] == int(values.isna().sum())
    plain = values.value_counts(dropna=False, normalize=True).to_numpy()
    plain = plain[plain > 0]  # unused categories of a categorical
    assert side["entropy_bits"] == round(float(-(plain * np.log2(plain)).sum()), 6)
    assert entropy_bits(values) == entropy_bits(values, counts)
    for min_count in (1, 5):
        assert _distribution(counts, min_count) == _plain_distribution(values, min_count)
    if "mean" in side:
        plain_numbers = values.astype("Float64")
        assert side["mean"] == pytest.approx(float(plain_numbers.mean()), rel=1e-12)
        assert side["std"] == pytest.approx(float(plain_numbers.std()), rel=1e-9)
