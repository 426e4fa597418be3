"""Value-wise ops applied once per distinct value give exactly the per-row result, errors included."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from anon_pipeline.errors import TransformError
from anon_pipeline.transforms import FitContext, get_op, registered_ops
from anon_pipeline.transforms.distinct import apply_op

REF = date(2022, 12, 15)


def _column(values: list, dtype: str, rows: int = 5_000, seed: int = 0) -> pd.Series:
    """Many repeats of a few values plus missing ones, under a shuffled non-default index."""
    rng = np.random.default_rng(seed)
    picked = [values[i] for i in rng.integers(0, len(values), rows)]
    series = pd.Series(picked, dtype=dtype, name="col", index=rng.permutation(rows) + 100)
    return series.mask(rng.random(rows) < 0.05)


CASES = [
    ("age", {}, _column(["1955-11-30", "2002-12-16", "2000-02-29", "1980-06-01"], "datetime64[ns]")),
    ("band", {"edges": [0, 20, 40, 60], "out_of_range_label": "other"}, _column([0, 19.5, 20, 40.1, 60, 75], "Float64")),
    ("band", {"edges": [0, 6, 12], "labels": ["low", "high"], "closed": "left"}, _column([0, 6, 11, 12], "Int64")),
    ("postcode_region", {"level": "region"}, _column(["LS5 8FN", "M0U 1RA", "SW1A 1AA", "EC1A1BB", "ZZ9 9ZZ"], "str")),
    ("postcode_region", {"level": "area"}, _column(["LS5 8FN", "m0u 1ra", "SW1A 1AA"], "str")),
    ("country_continent", {"level": "cross_continent", "unknown_label": "?"},
     _column(["France", "Peru", "Japan", "Atlantis", "Kenya"], "str")),
    ("regroup", {"groups": {"low": ["a", "b"], "high": ["c"]}, "unknown_label": "other"}, _column(["a", "b", "c", "d"], "str")),
    ("hierarchy", {"table": [["a", "ab"], ["b", "ab"], ["c", "c"]], "level": 1}, _column(["a", "b", "c"], "str")),
    ("encode", {"style": "integer"}, _column(["x", "y", "z"], "str")),
]


@pytest.mark.parametrize("name, params, values", CASES, ids=[c[0] for c in CASES])
def test_distinct_path_equals_per_row(name, params, values):
    op_cls = get_op(name)
    assert op_cls.value_wise
    op = op_cls(op_cls.Params.model_validate(params))
    ctx = FitContext(column="col", seed=1, reference_date=REF)
    plan = op.fit(values, ctx)
    per_row = op.apply(values, plan, ctx)
    distinct = apply_op(op, values, plan, ctx)
    assert values.nunique() < 10 < len(values)
    pd.testing.assert_series_equal(distinct, per_row)


def test_errors_count_rows_not_distinct_values():
    op_cls = get_op("regroup")
    op = op_cls(op_cls.Params.model_validate({"groups": {"g": ["a"]}}))
    values = pd.Series(["a", "b", "b", "c", "c", "c"], dtype="str", name="col")
    ctx = FitContext(column="col", seed=1)
    with pytest.raises(TransformError, match="2 distinct value") as caught:
        apply_op(op, values, op.fit(values, ctx), ctx)
    assert caught.value.n_rows == 5


def test_ops_with_row_dependent_output_stay_per_row():
    # Noise draws per row, identifier ops see (mostly) unique values: neither opts in.
    ops = registered_ops()
    assert not ops["gaussian_noise"].value_wise and not ops["pseudonym"].value_wise
