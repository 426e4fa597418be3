import pandas as pd

from anon_pipeline.cli import main
from anon_pipeline.sample import generate
from anon_pipeline_tests.conftest import shared_path


def test_same_columns_as_the_shared_file_and_reproducible():
    shared = pd.read_csv(shared_path("data", "insurance", "customer_information.csv"), dtype="str", nrows=5)
    frame = generate("insurance_customers", 500, 42)
    assert list(frame.columns) == list(shared.columns)
    assert frame.equals(generate("insurance_customers", 500, 42))
    assert not frame.equals(generate("insurance_customers", 500, 43))


def test_value_styles_and_ranges():
    frame = generate("insurance_customers", 3000, 1)
    assert frame["national_insurance_number"].is_unique and frame["bank_account_number"].is_unique
    assert frame["bank_account_number"].str.fullmatch(r"\d{9}").all()
    assert frame["birthdate"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert set(frame["gender"]) == {"F", "M"} and set(frame["current_country"]) == {"United Kingdom"}
    assert frame["weight"].between(30, 100).all() and frame["height"].between(1.4, 2.0).all()
    assert frame["country_of_birth"].nunique() > 200


def test_any_size_from_the_cli(tmp_path):
    out = tmp_path / "big.parquet"
    assert main(["sample", "--rows", "50000", "--seed", "3", "--out", str(out)]) == 0
    assert len(pd.read_parquet(out)) == 50000
