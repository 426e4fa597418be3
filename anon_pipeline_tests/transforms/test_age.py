from datetime import date

import pandas as pd
import pytest

from anon_pipeline.errors import TransformError
from anon_pipeline_tests.transforms.helpers import run_op

REF = date(2022, 12, 15)


def test_whole_years_at_the_reference_date_respect_birthdays():
    born = pd.Series(pd.to_datetime(["2002-12-15", "2002-12-16", "1955-11-30", "2000-02-29"]))
    out, plan, _ = run_op("age", born, ref_date=REF)
    assert out.tolist() == [20, 19, 67, 22]
    assert plan == {"reference_date": "2022-12-15"}


def test_param_overrides_policy_reference_date():
    out, _, _ = run_op("age", pd.Series(pd.to_datetime(["2000-01-01"])), ref_date=REF,
                       reference_date=date(2010, 1, 1))
    assert out.tolist() == [10]


def test_future_dates_and_missing_reference_are_errors():
    with pytest.raises(TransformError, match="after the reference date"):
        run_op("age", pd.Series(pd.to_datetime(["2030-01-01"])), ref_date=REF)
    with pytest.raises(TransformError, match="reference_date"):
        run_op("age", pd.Series(pd.to_datetime(["2000-01-01"])))
