import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from anon_pipeline.errors import TransformError
from anon_pipeline.transforms import get_op
from anon_pipeline_tests.transforms.helpers import run_op


def test_right_closed_bands_include_the_lowest_edge():
    # Document A's defect: pandas.cut(right=True) turns 0 drinks into NaN. Ours keeps it in the first band.
    out, _, _ = run_op("band", [0, 6, 6.01, 12, 99.9], edges=[0, 6, 12, 100], labels=["low", "medium", "high"])
    assert out.tolist() == ["low", "low", "medium", "medium", "high"]
    assert out.notna().all()


def test_edges_belong_to_the_closed_side():
    right, _, _ = run_op("band", [10, 20], edges=[0, 10, 20, 30])
    left, _, _ = run_op("band", [10, 20], edges=[0, 10, 20, 30], closed="left")
    assert right.tolist() == ["[0, 10]", "(10, 20]"]
    assert left.tolist() == ["[10, 20)", "[20, 30]"]


def test_lowest_edge_excluded_when_asked_is_out_of_range_not_nan():
    with pytest.raises(TransformError, match="1 row"):
        run_op("band", [0, 5], edges=[0, 10], include_lowest=False)
    out, _, _ = run_op("band", [0, 5], edges=[0, 10], include_lowest=False, out_of_range_label="other")
    assert out.tolist() == ["other", "(0, 10]"]


def test_out_of_range_is_an_error_naming_column_and_count_not_values():
    with pytest.raises(TransformError) as info:
        run_op("band", [5, 123.456, -7.5], edges=[0, 10])
    text = str(info.value)
    assert "2 row(s)" in text and "'col'" in text and "123.456" not in text


def test_missing_values_get_the_missing_label():
    out, _, _ = run_op("band", pd.Series([1.0, np.nan]), edges=[0, 10], missing_label="unknown")
    assert out.tolist() == ["[0, 10]", "unknown"]


def test_float_edges_from_yaml_band_heights_exactly():
    out, _, _ = run_op("band", [1.4, 1.5, 1.51, 2.0], edges=[1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0])
    assert out.tolist() == ["[1.4, 1.5]", "[1.4, 1.5]", "(1.5, 1.6]", "(1.9, 2]"]


@pytest.mark.parametrize("params", [{"edges": [1]}, {"edges": [0, 5, 5]}, {"edges": [0, 1, 2], "labels": ["a"]},
                                    {"edges": [0, 1], "bogus": 1}])
def test_bad_params_are_rejected(params):
    with pytest.raises(ValidationError):
        get_op("band").Params.model_validate(params)
