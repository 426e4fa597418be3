"""validate_raw's shortcuts (pattern only on cells that look scientific; no row comparison when a unique column
is unique) report exactly what the full checks report."""

import pandas as pd
import pytest

from anon_pipeline.errors import RawSchemaError
from anon_pipeline.pipeline.raw_schema import validate_raw
from anon_pipeline.policy import load_policy
from anon_pipeline.sample import generate
from anon_pipeline_tests.pipeline.policies import variant


def _raw(rows: int = 40) -> pd.DataFrame:
    return generate("insurance_customers", rows, 5).astype("str")


def _problems(frame: pd.DataFrame, policy) -> dict[tuple[str, str], int]:
    with pytest.raises(RawSchemaError) as caught:
        validate_raw(frame, policy, "in.csv")
    return {(p["column"], p["rule"]): p["n_rows"] for p in caught.value.problems}


def test_a_pattern_that_accepts_scientific_text_wants_it(tmp_path):
    policy = load_policy(variant(tmp_path, columns__phone_number={"role": "identifier", "pattern": "^[0-9.e+() ]+$"}))
    frame = _raw()
    frame.loc[:2, "phone_number"] = ["7.7009e+09", "7.7010e+09", "7.7011E+09"]   # the last breaks the pattern
    assert _problems(frame, policy) == {("phone_number", "text column holds numbers in scientific notation"): 1}
    frame.loc[2, "phone_number"] = "7.7011e+09"
    assert len(validate_raw(frame, policy, "in.csv")) == len(frame)


def test_repeated_rows_found_whether_or_not_a_unique_column_is_unique(tmp_path):
    policy = load_policy(variant(tmp_path))
    frame = _raw()
    repeated = pd.concat([frame, frame.iloc[:3]], ignore_index=True)
    problems = _problems(repeated, policy)
    assert problems[("*", "no duplicated rows")] == 3
    assert problems[("national_insurance_number", "unique")] == 6
    # Same rows but for the unique column: no repeated rows, nothing to report.
    repeated.loc[len(frame):, "national_insurance_number"] = ["AB 12 34 56 C", "AB 12 34 57 C", "AB 12 34 58 C"]
    assert len(validate_raw(repeated, policy, "in.csv")) == len(frame) + 3
