"""Same input and seed, same release: the qi table's rows come in a random (CSPRNG) order, yet synthesis, which
draws from the rows of a bucket by position in value order with a seed from the plan and the bucket's values, gives
the same values run after run (one bucket: tables of up to ``batch_rows`` rows). Noise draws each row's value from
its GUID, fresh in every run (so that a row gets the same noise whichever batch holds it): two runs fit the same
plan and release the same distribution, not the same rows."""

import numpy as np
import pytest

import anon_pipeline as ap
from anon_pipeline.pipeline.qi_table import GUID
from anon_pipeline_tests.pipeline.policies import ROOT


def released_rows(result):
    table = result.anonymised.drop(columns=[GUID])
    return table.sort_values(list(table.columns), ignore_index=True)


def test_two_runs_release_the_same_rows(tmp_path):
    policy = ROOT / "policies" / "flights_synthesis.yaml"
    first = ap.run_policy(policy, workdir=tmp_path / "a")
    again = ap.run_policy(policy, workdir=tmp_path / "b")
    assert first.plan_id == again.plan_id
    assert released_rows(first).equals(released_rows(again))


def test_two_noise_runs_fit_one_plan_and_release_one_distribution(tmp_path):
    policy = ROOT / "policies" / "flights_noise.yaml"
    first = ap.run_policy(policy, workdir=tmp_path / "a")
    again = ap.run_policy(policy, workdir=tmp_path / "b")
    assert first.plan_id == again.plan_id
    a, b = released_rows(first), released_rows(again)
    assert not a.equals(b)  # the GUIDs, hence each row's draw, are fresh
    sigma = first.plan["columns"]["departure_attr"][0]["plan"]["sigma"]
    for column in ("departure_attr", "arrival_attr"):
        # Two draws of 10,000 rows: means within 5 standard errors of their difference.
        assert a[column].mean() == pytest.approx(b[column].mean(), abs=5 * sigma * np.sqrt(2 / len(a)))
    shares = lambda t: t["age"].value_counts(normalize=True)  # noqa: E731
    assert (shares(a) - shares(b)).abs().max() < 0.02
