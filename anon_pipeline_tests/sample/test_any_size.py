"""The insurance sample at any size: NI and account numbers never repeat, and streaming writes the same table."""

import hashlib

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pytest

from anon_pipeline.policy import load_policy
from anon_pipeline.cli import main
from anon_pipeline.sample import generate, write_sample
from anon_pipeline.sample import insurance
from anon_pipeline.sample.registry import SampleSizeError
from anon_pipeline_tests.pipeline.policies import BUNDLED


@pytest.mark.parametrize("domain", [1, 2, 7, 1000, 12_345, 2**20, 10**6 + 1, 10**7 + 1])
def test_permute_is_a_bijection_of_its_domain(domain):
    image = insurance.permute(np.arange(domain), domain, seed=3, tag=1)
    assert np.array_equal(np.sort(image), np.arange(domain))
    if domain > 1000:   # and it does shuffle
        assert np.mean(image == np.arange(domain)) < 0.01


def test_ni_numbers_unique_where_the_old_draw_with_replacement_repeated():
    # The old generator drew the 6 digits with replacement above 1e6 rows: at 1.2e6 rows about 5e5 of them
    # repeated (n - 1e6 (1 - exp(-n / 1e6))). Here the numbers are a permutation of the row numbers.
    rows = 1_200_000
    style = np.random.default_rng(0).integers(0, 3, rows)
    numbers = insurance.national_insurance_numbers(np.arange(rows), rows, 11, style)
    assert pc.count_distinct(pc.replace_substring(numbers, " ", "")).as_py() == rows
    pattern = load_policy(BUNDLED).columns["national_insurance_number"].pattern
    assert pc.all(pc.match_substring_regex(numbers, pattern)).as_py()
    assert pc.count_distinct(pc.utf8_slice_codeunits(numbers, 0, 2)).as_py() == 2   # ZZ and one more prefix


def test_ni_numbers_of_a_1e8_row_table_are_distinct_and_valid():
    # 2e6 of the 1e8 row numbers, the first and the last among them: were the numbers not distinct across the
    # 100 (prefix, suffix) pairs this size uses, a draw this large would meet some twice.
    rows = 10**8
    # Drawn from the integer range itself: choice over an arange of 1e8 would first build and shuffle 800 MB.
    index = np.concatenate([[0, rows - 1], np.random.default_rng(1).choice(rows - 2, 2_000_000, replace=False) + 1])
    style = np.random.default_rng(2).integers(0, 3, len(index))
    numbers = insurance.national_insurance_numbers(index, rows, 5, style)
    assert pc.count_distinct(pc.replace_substring(numbers, " ", "")).as_py() == len(index)
    pattern = load_policy(BUNDLED).columns["national_insurance_number"].pattern
    assert pc.all(pc.match_substring_regex(numbers, pattern)).as_py()
    assert pc.count_distinct(pc.utf8_slice_codeunits(numbers, 0, 2)).as_py() == 100
    again = insurance.national_insurance_numbers(index[:1000], rows, 5, style[:1000])
    assert again.equals(numbers[:1000])   # a row's number depends on (row, rows, seed) only


def test_sizes_beyond_the_unique_spaces_are_refused_before_writing(tmp_path, capsys):
    out = tmp_path / "big.parquet"
    for rows in (insurance.MAX_ROWS + 1, -1):
        with pytest.raises(SampleSizeError, match=f"cannot make {rows} rows"):
            write_sample("insurance_customers", rows, 0, out)
        assert not out.exists()
    with pytest.raises(SampleSizeError, match="at most 4057000000 rows"):
        insurance.national_insurance_numbers(np.arange(3), 4057 * 10**6 + 1, 0, np.zeros(3, dtype=np.int64))
    assert main(["sample", "--rows", str(10**10), "--out", str(out)]) == 2
    assert f"at most {insurance.MAX_ROWS} rows have distinct identifiers" in capsys.readouterr().err
    assert not out.exists()


def test_table_unique_columns_hold_past_a_million_rows():
    frame = generate("insurance_customers", 1_000_100, 2)
    assert frame["national_insurance_number"].str.replace(" ", "").is_unique
    assert frame["bank_account_number"].is_unique and frame["bank_account_number"].str.fullmatch(r"\d{9}").all()


def test_streamed_file_is_the_one_shot_table(tmp_path, monkeypatch):
    monkeypatch.setattr(insurance, "BLOCK_ROWS", 1000)   # 4 blocks, the last one partial
    one_shot = generate("insurance_customers", 3500, 9)
    for suffix in ("parquet", "csv"):
        out = tmp_path / f"sample.{suffix}"
        assert write_sample("insurance_customers", 3500, 9, out) == 3500
        again = tmp_path / f"again.{suffix}"
        write_sample("insurance_customers", 3500, 9, again)
        assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(again.read_bytes()).digest()
        if suffix == "parquet":
            pd.testing.assert_frame_equal(pd.read_parquet(out), one_shot)
        else:
            assert out.read_text() == one_shot.to_csv(index=False)


def test_cli_publishes_the_whole_file_or_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(insurance, "BLOCK_ROWS", 1000)
    out = tmp_path / "sample.parquet"
    assert main(["sample", "--rows", "2500", "--seed", "4", "--out", str(out)]) == 0
    assert out.stat().st_mode & 0o777 == 0o600   # stands for personal data
    pd.testing.assert_frame_equal(pd.read_parquet(out), generate("insurance_customers", 2500, 4))
    block = insurance._block

    def fail_in_the_second_block(start, *args):
        if start >= 1000:
            raise OSError(28, "No space left on device")
        return block(start, *args)

    monkeypatch.setattr(insurance, "_block", fail_in_the_second_block)
    for name in ("sample.parquet", "new.csv"):
        before = (tmp_path / name).read_bytes() if (tmp_path / name).exists() else None
        assert main(["sample", "--rows", "2500", "--out", str(tmp_path / name)]) == 3
        after = (tmp_path / name).read_bytes() if (tmp_path / name).exists() else None
        assert after == before   # the earlier file untouched, no new one
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sample.parquet"]   # no temporary left


def test_zero_rows_keep_the_columns():
    assert list(generate("insurance_customers", 0, 1).columns) == insurance.COLUMNS
