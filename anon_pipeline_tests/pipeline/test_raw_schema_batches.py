"""validate_raw over a file read in batches (RawValidation): every batch size gives the whole file's problems
and row counts, and the typed rows; rules that span rows (unique, repeated rows, at least one row) hold across
batches."""

import pandas as pd
import pytest

from anon_pipeline.errors import RawSchemaError
from anon_pipeline.pipeline.raw_schema import RawValidation, validate_raw
from anon_pipeline.policy import load_policy
from anon_pipeline.sample import generate
from anon_pipeline_tests.pipeline.policies import variant


def _problems(error: RawSchemaError) -> set[tuple]:
    return {(p["column"], p["rule"], p["n_rows"], p["hint"]) for p in error.problems}


def _batched(frame: pd.DataFrame, policy, size: int, reread: bool = False
             ) -> tuple[pd.DataFrame | None, set[tuple] | None]:
    def batches():
        return (frame.iloc[start:start + size] for start in range(0, max(len(frame), 1), size))

    validation = RawValidation(policy, "in.csv", reread=batches if reread else None)
    parts = [validation.add(batch) for batch in batches()]
    try:
        validation.finish()
    except RawSchemaError as exc:
        return None, _problems(exc)
    return pd.concat(parts), None


def _whole(frame: pd.DataFrame, policy) -> tuple[pd.DataFrame | None, set[tuple] | None]:
    try:
        return validate_raw(frame, policy, "in.csv"), None
    except RawSchemaError as exc:
        return None, _problems(exc)


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    return load_policy(variant(tmp_path_factory.mktemp("p")))


@pytest.fixture(scope="module")
def frame():
    return generate("insurance_customers", 60, 5).astype("str")


def test_clean_file_types_the_same_rows(policy, frame):
    typed, _ = _whole(frame, policy)
    for size in (1, 7, 60):
        batched, problems = _batched(frame, policy, size)
        assert problems is None
        pd.testing.assert_frame_equal(batched, typed)


def test_every_rule_counts_the_whole_files_rows(policy, frame):
    broken = pd.concat([frame, frame.iloc[[3, 40, 41]]], ignore_index=True)   # three repeated rows
    broken.loc[[0, 10, 50], "postcode"] = "not a postcode"
    broken.loc[[5, 59], "weight"] = "heavy"
    broken.loc[[20, 30], "national_insurance_number"] = broken.loc[1, "national_insurance_number"]
    broken.loc[[2, 33], "phone_number"] = "7.7009e+09"
    _, whole = _whole(broken, policy)
    rules = {(p[0], p[1]): p[2] for p in whole}
    assert rules[("*", "no duplicated rows")] == 3 and rules[("national_insurance_number", "unique")] == 9
    assert rules[("weight", "dtype float")] == 2
    for size in (1, 7, 25):
        assert _batched(broken, policy, size) == (None, whole)
        assert _batched(broken, policy, size, reread=True) == (None, whole)


def test_repeated_rows_counted_exactly_when_the_unique_column_does_not_rule_them_out(policy, frame):
    """With ``reread``, rows are hashed only once no ``unique`` column can rule repeated rows out: then in a second
    pass, and the counts are those of the whole file."""
    passes = []

    def validate(table: pd.DataFrame, size: int) -> dict[tuple[str, str], int]:
        def batches():
            passes.append(size)
            return (table.iloc[start:start + size] for start in range(0, len(table), size))

        validation = RawValidation(policy, "in.csv", reread=batches)
        for batch in batches():
            validation.add(batch)
        return {(p["column"], p["rule"]): p["n_rows"] for p in validation.problems()}

    repeated = pd.concat([frame, frame.iloc[[3, 40, 41, 3]]], ignore_index=True)   # four repeated rows
    assert validate(frame, 7) == {} and passes == [7]   # unique column unique: one pass, no row hashed
    for size in (1, 7, 64):
        passes.clear()
        problems = validate(repeated, size)
        assert problems[("*", "no duplicated rows")] == 4 and passes == [size, size]
        assert problems[("national_insurance_number", "unique")] == 7
    # The unique column unique but missing in some rows: equal rows are possible, so they are compared.
    blank = pd.concat([frame, frame.iloc[[5, 5]]], ignore_index=True)
    blank.loc[[5, 60, 61], "national_insurance_number"] = None
    _, whole = _whole(blank, policy)
    assert ("*", "no duplicated rows", 2) in {p[:3] for p in whole}
    assert _batched(blank, policy, 7, reread=True) == (None, whole)
    # Different rows with a repeated unique value: one pass more, and no repeated row.
    twin = frame.copy()
    twin.loc[9, "national_insurance_number"] = twin.loc[8, "national_insurance_number"]
    passes.clear()
    assert validate(twin, 7) == {("national_insurance_number", "unique"): 2} and passes == [7, 7]


def test_missing_columns_and_no_rows(policy, frame):
    for table in (frame.drop(columns=["surname"]), frame.iloc[:0]):
        _, whole = _whole(table, policy)
        assert _batched(table, policy, 7) == (None, whole)
    assert ("surname", "column declared by the policy is missing from the input", 60, None) in \
        _batched(frame.drop(columns=["surname"]), policy, 7)[1]
    # A rule of the file's columns is told as such, not as 60 broken rows; the heading only counts the rules.
    with pytest.raises(RawSchemaError) as info:
        validate_raw(frame.drop(columns=["surname"]), policy, "in.csv")
    assert str(info.value).startswith("input in.csv: 1 rule(s) of the raw schema broken:\n")
    assert "missing from the input': all 60 row(s) of the file" in str(info.value)
    assert (info.value.column, info.value.n_rows) == ("surname", 60)


def test_a_cell_rule_names_the_first_data_row_that_breaks_it_whatever_the_batches(policy, frame):
    """Row numbers (from 1, the header excluded) let the engineer find the cell; they are no data value. A rule
    that spans rows (unique) names none."""
    broken = frame.copy()
    broken.loc[[17, 44], "weight"] = "heavy"                  # not a number: typed here
    broken.loc[[9, 10, 50], "postcode"] = "not a postcode"   # a pattern: checked by pandera
    broken.loc[[20, 30], "national_insurance_number"] = broken.loc[1, "national_insurance_number"]

    def firsts(error: RawSchemaError) -> dict[str, int | None]:
        return {p["column"]: p["first_row"] for p in error.problems}   # one rule per column here

    with pytest.raises(RawSchemaError) as whole:
        validate_raw(broken, policy, "in.csv")
    assert firsts(whole.value) == {"weight": 18, "postcode": 10, "national_insurance_number": None}
    assert "'weight', rule 'dtype float': 2 row(s), the first at data row 18" in str(whole.value)
    for size in (1, 7, 25):
        validation = RawValidation(policy, "in.csv")
        for start in range(0, len(broken), size):
            validation.add(broken.iloc[start:start + size])
        with pytest.raises(RawSchemaError) as batched:
            validation.finish()
        assert firsts(batched.value) == firsts(whole.value)
