"""The streaming engine (issue 9): batches read as the whole file is, the same release whatever the batch size,
errors counted over the whole file, staged parts encrypted, and the policies that must run in memory say why."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anon_pipeline import run_policy
from anon_pipeline.errors import InputDataError
from anon_pipeline.pipeline.batches import read_batches
from anon_pipeline.pipeline.qi_table import GUID
from anon_pipeline.pipeline.source import read_source, resolve_source
from anon_pipeline.pipeline.stream import engine_blockers, fit_chain
from anon_pipeline.policy import load_policy
from anon_pipeline.policy.load import bind_steps
from anon_pipeline.release import read_release_table
from anon_pipeline.sample import generate

ROOT = Path(__file__).resolve().parents[2]
INSURANCE = ROOT / "policies" / "insurance_customers.yaml"


@pytest.fixture(scope="module")
def sample_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("src") / "customers.csv"
    generate("insurance_customers", 600, 3).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("rows", [1, 7, 64, 10_000])
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_batches_concatenate_to_the_whole_file(sample_csv, tmp_path, rows, fmt):
    policy = load_policy(INSURANCE)
    path = sample_csv
    if fmt == "parquet":
        path = tmp_path / "customers.parquet"
        pd.read_csv(sample_csv, dtype="str").to_parquet(path)
    src = resolve_source(policy, path)
    parts = list(read_batches(src, policy, rows))
    assert all(len(p) == rows for p in parts[:-1]) and 0 < len(parts[-1]) <= rows
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), read_source(src, policy))


def _profile(result) -> dict:
    table = result.anonymised.drop(columns=[GUID])
    return {c: table[c].value_counts(dropna=False).sort_index().to_dict() for c in table.columns}


def test_same_release_whatever_the_batch_size(sample_csv, tmp_path):
    """One fitted plan replayed with batches of 1, 7 and all rows: same value counts per column, K and checks."""
    first = run_policy(INSURANCE, source=sample_csv, workdir=tmp_path)
    assert first.released
    small = tmp_path / "small.csv"
    pd.read_csv(sample_csv, dtype="str").iloc[:45].to_csv(small, index=False)
    for source, sizes in ((sample_csv, (7, 10_000)), (small, (1, 7, 45))):
        runs = [run_policy(INSURANCE, source=source, workdir=tmp_path, plan=first.plan_id, batch_rows=rows)
                for rows in sizes]
        for again in runs:
            assert again.plan_id == first.plan_id
            assert _profile(again) == _profile(runs[-1])
            assert again.anonymity["K"] == runs[-1].anonymity["K"]
            assert again.checks == runs[-1].checks
            if again.released:
                released = read_release_table(again.release_dir)
                assert len(released) == len(again.anonymised)
                # GUID order, which is random: not the source's order.
                assert released[GUID].is_monotonic_increasing
    assert _profile(runs[0]) != _profile(first)  # the small file is another table


def test_fresh_fits_agree_across_batch_sizes(sample_csv, tmp_path):
    """Fitted from aggregates merged over batches of 7, the plan bands and groups exactly as one batch does
    (codes are drawn afresh by each fit, so they are compared through the key tables)."""
    one = run_policy(INSURANCE, source=sample_csv, workdir=tmp_path / "one")
    seven = run_policy(INSURANCE, source=sample_csv, workdir=tmp_path / "seven", batch_rows=7)

    def decoded(result):
        table = result.anonymised.drop(columns=[GUID]).copy()
        for column, key in (("birth_region_code", "birth_region"), ("home_region_code", "home_region"),
                            ("education_code", "education_tier")):
            codes = result.key_tables[key]
            mapping = dict(zip(codes.iloc[:, 0].astype(str), codes.iloc[:, 1]))
            table[column] = table[column].astype(str).map(mapping)
        return {c: table[c].value_counts(dropna=False).sort_index().to_dict() for c in table.columns}

    assert decoded(one) == decoded(seven)
    assert one.anonymity["K"] == seven.anonymity["K"]


def test_the_bundled_insurance_figures_hold(insurance_csv, tmp_path):
    result = run_policy(INSURANCE, source=insurance_csv, workdir=tmp_path, batch_rows=97)
    assert result.anonymity["K"] == 15
    assert sorted(result.anonymised["education_code"].value_counts().tolist(), reverse=True) == [519, 209, 164, 108]


def test_a_rule_broken_across_batches_is_counted_over_the_file(sample_csv, tmp_path):
    frame = pd.read_csv(sample_csv, dtype="str")
    # The same national insurance number in rows far apart: no batch of 7 holds both.
    frame.loc[140, "national_insurance_number"] = frame.loc[2, "national_insurance_number"]
    bad = tmp_path / "bad.csv"
    frame.to_csv(bad, index=False)
    with pytest.raises(InputDataError) as streamed:
        run_policy(INSURANCE, source=bad, workdir=tmp_path / "a", batch_rows=7)
    with pytest.raises(InputDataError) as whole:
        run_policy(INSURANCE, source=bad, workdir=tmp_path / "b", batch_rows=1000)
    assert str(streamed.value) == str(whole.value)
    assert "national_insurance_number" in str(streamed.value)
    assert frame.loc[2, "national_insurance_number"] not in str(streamed.value)


def test_staged_parts_are_encrypted_and_removed_with_the_result(sample_csv, tmp_path):
    result = run_policy(INSURANCE, source=sample_csv, workdir=tmp_path, batch_rows=40)
    staging = result.staged.folder
    parts = list(Path(staging).glob("*.enc"))
    assert parts
    for part in parts:
        data = part.read_bytes()
        assert b"PAR1" not in data and b"national" not in data
    del result
    import gc
    gc.collect()
    assert not Path(staging).exists()


def test_which_policies_stream():
    assert engine_blockers(load_policy(INSURANCE)) == []
    for name in ("flights_synthesis", "flights_noise"):
        assert engine_blockers(load_policy(ROOT / "policies" / f"{name}.yaml")) == []
    adult = engine_blockers(load_policy(ROOT / "policies" / "adult_synthesis.yaml"))
    assert adult == ["synthetic[0] cart_synthesis: its trees are fitted on every row of the group (the whole group "
                     "in memory)"]


def test_a_chain_fitted_on_counts_equals_one_fitted_on_rows():
    policy = load_policy(INSURANCE)
    column_steps, _ = bind_steps(policy)
    rows = pd.Series(np.random.default_rng(1).choice(["primary", "secondary", "bachelor", "masters", "phD",
                                                      "other"], 500), name="education_level", dtype="str")
    counts = rows.value_counts()
    plans, keys = fit_chain(pd.Series(counts.index, name=rows.name, dtype="str"), counts.to_numpy(),
                            column_steps["education_level"], policy, "education_level")
    from anon_pipeline.pipeline.steps import run_steps
    _, row_plans, row_keys = run_steps(rows, column_steps["education_level"], policy, "education_level")
    assert [p["op"] for p in plans] == [p["op"] for p in row_plans]
    assert plans[0] == row_plans[0]  # regroup
    # encode draws random codes: the same categories get one each
    assert sorted(keys["education_tier"].iloc[:, 1]) == sorted(row_keys["education_tier"].iloc[:, 1])


def test_the_cli_takes_a_batch_size(sample_csv, tmp_path):
    import subprocess
    import sys
    run = [sys.executable, "-m", "anon_pipeline.cli", "run", str(INSURANCE), "--source", str(sample_csv),
           "--workdir", str(tmp_path)]
    done = subprocess.run([*run, "--batch-rows", "50"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "K = " in done.stdout
    refused = subprocess.run([*run, "--batch-rows", "0"], capture_output=True, text=True, cwd=ROOT)
    assert refused.returncode == 2 and "--batch-rows" in refused.stderr


def test_the_release_measures_again_unless_every_check_was_recorded(tmp_path):
    from anon_pipeline.pipeline.checks import CheckOutcome
    from anon_pipeline.pipeline.graph import Run
    run = Run(load_policy(INSURANCE))
    value = {"staged_table": True, "folder": str(tmp_path / "anonymised-x"), "name": "anonymised", "n_buckets": 1}
    names = ["anonymised_schema", "no_identifier_leak"]
    fresh = [CheckOutcome("measured", True, True, "again")]
    run.record(value, [CheckOutcome("anonymised_schema", True, True, "ok")])
    assert run.outcomes_of(value, names, lambda: fresh) == fresh       # one check missing: measure all again
    run.record(value, [CheckOutcome("no_identifier_leak", False, True, "leak")])
    assert [(o.name, o.passed) for o in run.outcomes_of(value, names, lambda: fresh)] == [
        ("anonymised_schema", True), ("no_identifier_leak", False)]
    other = {**value, "folder": str(tmp_path / "anonymised-y")}
    assert run.outcomes_of(other, names, lambda: fresh) == fresh       # another table: nothing recorded


def test_the_k5_policy_streams_its_generalisation(insurance_csv, tmp_path):
    """The lattice search fitted on class counts merged over batches of 97 rows, and its plan replayed in batches
    of 1000: same release as the one-batch run of the same plan; k = 5 over every released quasi-identifier."""
    k5 = ROOT / "policies" / "insurance_customers_k5.yaml"
    assert engine_blockers(load_policy(k5)) == []
    fitted = run_policy(k5, source=insurance_csv, workdir=tmp_path, batch_rows=97)
    assert fitted.released and fitted.anonymity["all_quasi_identifiers"]["K"] >= 5
    again = run_policy(k5, source=insurance_csv, workdir=tmp_path, plan=fitted.plan_id, batch_rows=1000)
    assert _profile(again) == _profile(fitted)
    # A replayed plan adds the union check (releases sharing codes are joinable); every other check agrees.
    assert {k: v for k, v in again.checks.items() if k != "union_k_anonymity"} == fitted.checks


def test_a_write_that_fails_in_the_background_fails_the_pass_and_leaves_no_table(sample_csv, tmp_path, monkeypatch):
    """The qi pass writes its buckets in a background thread (``prefetch.Behind``): a write error there is the
    pass's error, raised in the caller, and the half-written tables are removed."""
    from anon_pipeline.pipeline.staged import StagedTable
    from anon_pipeline.pipeline.stream import stream_qi_table

    policy = load_policy(INSURANCE)
    src = resolve_source(policy, sample_csv)
    real, calls = StagedTable.write_buckets, []

    def failing(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("No space left on device")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(StagedTable, "write_buckets", failing)
    staging = tmp_path / "staging"
    with pytest.raises(OSError, match="No space left"):
        stream_qi_table(src, policy, staging, 50)
    assert not [p for p in staging.iterdir() if p.name.startswith(("qi_table-", "contract-"))]


def test_a_rule_broken_in_a_later_batch_is_raised_through_the_read_ahead(sample_csv, tmp_path):
    """Batches are read and validated ahead in a background thread: the error is still the whole file's."""
    frame = pd.read_csv(sample_csv, dtype="str")
    frame.loc[[450, 451, 452], "gender"] = "unknown"
    broken = tmp_path / "broken.csv"
    frame.to_csv(broken, index=False)
    with pytest.raises(InputDataError) as raised:
        run_policy(INSURANCE, source=broken, workdir=tmp_path, batch_rows=100)
    assert raised.value.n_rows == 3 and raised.value.column == "gender"
