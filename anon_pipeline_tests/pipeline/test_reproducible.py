"""Same input and seed, same release: the qi table's rows come in a random (CSPRNG) order, yet ops that draw
from the seed by row position (noise, synthesis) give the same values run after run."""

import pytest

import anon_pipeline as ap
from anon_pipeline.pipeline.qi_table import GUID
from anon_pipeline_tests.pipeline.policies import ROOT


def released_rows(policy, workdir):
    table = ap.run_policy(policy, workdir=workdir).anonymised.drop(columns=[GUID])
    return table.sort_values(list(table.columns), ignore_index=True)


@pytest.mark.parametrize("policy", ["flights_synthesis.yaml", "flights_noise.yaml"])
def test_two_runs_release_the_same_rows(tmp_path, policy):
    first = released_rows(ROOT / "policies" / policy, tmp_path / "a")
    again = released_rows(ROOT / "policies" / policy, tmp_path / "b")
    assert first.equals(again)
