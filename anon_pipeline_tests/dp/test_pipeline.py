"""The ledger through every entry point: a DP policy releases once, the over-budget run is refused by
``run_policy``, the CLI and Dagster alike, and the refused run writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import yaml

import anon_pipeline as ap
from anon_pipeline.cli import main
from anon_pipeline.defs.build import build_definitions
from anon_pipeline.dp.ledger import Ledger
from anon_pipeline.errors import BudgetExceeded

STEP = {"op": "dp_mst_synthesis", "epsilon": 1.0, "delta": 1e-9,
        "columns": {"sex": {"values": ["F", "M"]}, "age": {"bounds": [18, 81], "bins": 7},
                    "smoker": {"values": ["yes", "no"]}}}


def dp_policy(tmp_path: Path) -> Path:
    rng = np.random.default_rng(5)
    n = 400
    sex = rng.choice(["F", "M"], n)
    frame = pd.DataFrame({"id": [f"P{i:05d}" for i in range(n)], "sex": sex, "age": rng.integers(18, 81, n),
                          "smoker": np.where(rng.random(n) < np.where(sex == "M", 0.4, 0.1), "yes", "no")})
    frame.to_csv(tmp_path / "people.csv", index=False)
    policy = {"name": "dp_people", "seed": 3, "source": {"path": "people.csv"},
              "columns": {"id": {"role": "identifier"}, "sex": {"role": "quasi_identifier", "allowed": ["F", "M"]},
                          "age": {"role": "quasi_identifier", "dtype": "int", "min": 18, "max": 80},
                          "smoker": {"role": "sensitive"}},
              "groups": [{"name": "everything", "columns": ["sex", "age", "smoker"], "steps": [STEP]}],
              # Two releases at epsilon 1 compose (zCDP) to about 1.42 at delta 1e-9: the second is refused.
              "dp": {"dataset_id": "people", "budget": {"epsilon": 1.2, "delta": 1e-9}}}
    path = tmp_path / "dp_people.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return path


def snapshot(root: Path, skip: str = "\0") -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in root.rglob("*") if p.is_file() and skip not in p.parts}


def test_run_policy_charges_once_then_refuses_and_writes_nothing(tmp_path):
    policy, work = dp_policy(tmp_path), tmp_path / "w"
    first = ap.run_policy(policy, workdir=work)
    assert first.released
    step = first.plan["groups"]["everything"][0]["plan"]
    assert step["dp"]["epsilon"] == 1.0 and step["dp"]["rho"] > 0
    assert "P00001" not in str(step) and "input_rows" not in step   # no rows, not even the exact row count
    # The spend is in the anonymity report (and so in the release) too.
    assert first.anonymity["report"]["steps"]["everything[0] dp_mst_synthesis"]["dp"] == step["dp"]
    manifest = json.loads((first.release_dir / "manifest.json").read_text())
    assert manifest["dp"] == {"everything[0] dp_mst_synthesis": step["dp"]}   # and in the signed manifest
    ledger = Ledger.for_dataset(work, "people")
    assert [e.spend.epsilon for e in ledger.entries()] == [1.0]
    before = snapshot(work)
    with pytest.raises(BudgetExceeded, match=r"budget epsilon=1.2 .*spent epsilon=1, requested epsilon=1;"):
        ap.run_policy(policy, workdir=work)
    assert snapshot(work) == before   # no report, key table, plan or release; the ledger untouched
    assert len(ledger.entries()) == 1


def test_cli_refuses_an_over_budget_release(tmp_path, capsys):
    policy, work = dp_policy(tmp_path), tmp_path / "w"
    assert main(["run", str(policy), "--workdir", str(work)]) == 0
    releases = sorted((work / "dp_people" / "release").iterdir())
    assert main(["run", str(policy), "--workdir", str(work)]) == 2
    assert "privacy budget exceeded" in capsys.readouterr().err
    assert sorted((work / "dp_people" / "release").iterdir()) == releases


def test_dagster_refuses_an_over_budget_release(tmp_path):
    policy, work = dp_policy(tmp_path), tmp_path / "w"
    job = build_definitions([policy], workdir=str(work)).resolve_job_def("dp_people_job")

    def materialise():
        return job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)

    assert materialise().success
    before = snapshot(work, skip="staging")   # the IO manager's staging copies of raw and qi_table may change
    second = materialise()
    assert not second.success
    failure = next(e for e in second.all_events if e.event_type_value == "STEP_FAILURE")
    assert "BudgetExceeded" in str(failure.event_specific_data.error)
    materialised = {e.asset_key.path[-1] for e in second.all_events if e.event_type_value == "ASSET_MATERIALIZATION"}
    assert not materialised & {"anonymised", "key_tables", "release"}
    assert snapshot(work, skip="staging") == before
    assert len(Ledger.for_dataset(work, "people").entries()) == 1


def _with_aggregates(path: Path, budget: float, **changes) -> Path:
    policy = yaml.safe_load(path.read_text())
    policy["dp"] = {"dataset_id": "people", "budget": {"epsilon": budget, "delta": 1e-9}, "aggregates": [
        {"name": "by_sex", "kind": "count", "by": ["sex"], "epsilon": 0.25},
        {"name": "age_mean", "kind": "mean", "column": "age", "bounds": [18, 80], "epsilon": 0.25}]}
    policy.update(changes)
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return path


def test_a_run_whose_whole_cost_passes_the_budget_charges_and_publishes_nothing(tmp_path):
    """Aggregates (0.5) and an MST step (1.0) against a budget of 1.2: each alone fits, together they do not. The
    run is refused before either is charged, whichever stage would have charged first (run_policy walks the
    aggregates first; Dagster may run anonymise first)."""
    policy, work = _with_aggregates(dp_policy(tmp_path), 1.2), tmp_path / "w"
    with pytest.raises(BudgetExceeded, match=r"requested epsilon=1\.5"):
        ap.run_policy(policy, workdir=work)
    assert Ledger.for_dataset(work, "people").entries() == []
    root = work / "dp_people"
    assert not (root / "release_aggregates").exists() and not (root / "release").exists()
    defs = build_definitions([policy], workdir=str(work))
    result = defs.resolve_job_def("dp_people_job").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert not result.success and Ledger.for_dataset(work, "people").entries() == []
    assert not (root / "release_aggregates").exists() and not (root / "release").exists()
    # A replayed plan spends nothing more: with the plan of an earlier release, only the aggregates count.
    assert ap.run_policy(_with_aggregates(policy, 2.0), workdir=work).released   # budget fixed at 2.0 now
    assert sum(e.spend.epsilon for e in Ledger.for_dataset(work, "people").entries()) == pytest.approx(1.5)
    replaying = _with_aggregates(policy, 2.0, plan={"reuse": "latest"})
    assert ap.run_policy(replaying, workdir=work).released      # 0.5 more: about 2.0 composed, within
    with pytest.raises(BudgetExceeded):
        ap.run_policy(_with_aggregates(policy, 2.0), workdir=work)  # a refit would spend 1.5 more


def test_aggregates_of_a_run_that_fails_later_are_charged_but_not_published(tmp_path):
    """A blocking check fails after the aggregates were drawn: the run publishes nothing, aggregates included;
    their charge stands, as their noise was drawn."""
    policy, work = _with_aggregates(dp_policy(tmp_path), 5.0, privacy={"k": 10_000, "k_blocking": True}), \
        tmp_path / "w"
    result = ap.run_policy(policy, workdir=work)
    assert not result.released
    assert not (work / "dp_people" / "release_aggregates").exists()
    assert {e.spend.mechanism for e in Ledger.for_dataset(work, "people").entries()} >= {"laplace_count",
                                                                                         "laplace_mean"}


@pytest.mark.parametrize("group, text", [
    (["sex", "age", "smoker"], None),
    (["sex", "age"], "not in the group: ['smoker']"),
])
def test_the_mst_domains_are_checked_against_the_group_at_load(tmp_path, group, text):
    """A domain left out (or one too many) fails when the policy loads, before any budget is spent."""
    from anon_pipeline.errors import PolicyError
    from anon_pipeline.policy import load_policy

    path = dp_policy(tmp_path)
    policy = yaml.safe_load(path.read_text())
    policy["groups"][0]["columns"] = group
    if text is not None:
        policy["columns"]["smoker"]["role"] = "drop"
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    if text is None:
        assert load_policy(path).groups[0].columns == group
        return
    with pytest.raises(PolicyError, match=r"must declare the domain of exactly the group's columns") as info:
        load_policy(path)
    assert info.value.field == "groups[0].steps[0].params" and text in str(info.value)


def test_the_command_line_shows_what_the_dataset_has_spent(tmp_path, capsys):
    """run and where say what the ledger records (epsilon composed over every charge, against the budget) and
    where the latest aggregates are, so nobody has to open the SQLite file."""
    policy, work = _with_aggregates(dp_policy(tmp_path), 5.0), tmp_path / "w"
    assert main(["where", str(policy), "--workdir", str(work)]) == 0
    assert "DP budget:  dataset 'people' has spent nothing yet" in capsys.readouterr().out
    assert main(["run", str(policy), "--workdir", str(work)]) == 0
    out = capsys.readouterr().out
    spent, _ = Ledger.for_dataset(work, "people").spent()
    assert f"dataset 'people' has spent epsilon={spent:.4g}, delta=1e-09 of the budget epsilon=5, delta=1e-09 " \
           "(3 charge(s)" in out
    aggregates = (work / "dp_people" / "release_aggregates" / "latest").resolve()
    assert f"aggregates: {aggregates}" in out
    assert main(["where", str(policy), "--workdir", str(work)]) == 0
    assert f"aggregates: {aggregates}" in capsys.readouterr().out


def test_a_kept_column_left_out_of_the_mst_group_is_refused_at_load(tmp_path):
    """MST draws rows of its own: a kept column outside its group has no row to sit in. Found at load, before
    anything is charged (it used to fail after the MST fit had spent its epsilon)."""
    from anon_pipeline.errors import PolicyError
    from anon_pipeline.policy import load_policy

    path = dp_policy(tmp_path)
    policy = yaml.safe_load(path.read_text())
    policy["columns"]["smoker"]["role"] = "insensitive"
    policy["groups"][0]["columns"] = ["sex", "age"]
    policy["groups"][0]["steps"][0]["columns"].pop("smoker")
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    with pytest.raises(PolicyError, match=r"group 'everything' \(dp_mst_synthesis\) draws rows of its own") as info:
        load_policy(path)
    assert info.value.field == "groups" and "not in one: ['smoker']" in str(info.value)


def test_a_blocked_dp_run_says_what_it_charged(tmp_path, capsys):
    """Nothing is released, but the aggregates' noise was drawn and charged: the run says so."""
    policy = _with_aggregates(dp_policy(tmp_path), 5.0, privacy={"k": 10_000, "k_blocking": True})
    assert main(["run", str(policy), "--workdir", str(tmp_path / "w")]) == 1
    out = capsys.readouterr().out
    spent, _ = Ledger.for_dataset(tmp_path / "w", "people").spent()
    assert spent > 0 and f"DP budget:  dataset 'people' has spent epsilon={spent:.4g}" in out
