"""The policy's evaluation: section: a seeded control split that is never fitted nor released, the attacks on
the release, and risk targets as checks that warn or block."""

import json

import pytest

import anon_pipeline as ap
from anon_pipeline.errors import PolicyError
from anon_pipeline.policy import load_policy
from anon_pipeline.sample import generate
from anon_pipeline_tests.pipeline.policies import ROOT, variant

SOUND = ROOT / "policies" / "insurance_customers_k5.yaml"


def sound_with(tmp_path, **evaluation):
    import yaml

    data = yaml.safe_load(SOUND.read_text())
    data["evaluation"] = {"control_share": 0.2, "n_attacks": 200, **evaluation}
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "export.csv"
    generate("insurance_customers", 600, 11).to_csv(path, index=False)
    return path


def test_control_rows_are_held_out_the_same_way_and_never_released(tmp_path, source):
    policy = sound_with(tmp_path, targets={"linkage": 0.0})
    first = ap.run_policy(policy, source=source, workdir=tmp_path / "a")
    again = ap.run_policy(policy, source=source, workdir=tmp_path / "b")
    report = json.loads((first.release_dir / "attack_report.json").read_text())
    rows = report["settings"]["rows"]
    assert rows["control"] == 120 and rows["original"] == 480   # 20 % of 600 held out, none suppressed
    assert len(first.anonymised) <= 480
    # Same file, same seed: the same source rows are held out (the released age counts agree exactly).
    assert first.anonymised["age"].value_counts().equals(again.anonymised["age"].value_counts())
    assert set(report["attacks"]) >= {"singling_out_univariate", "singling_out_multivariate", "linkability"}
    assert report["linkage"]["original_rows"] == 600 and report["settings"]["seed"] == load_policy(policy).seed
    # GUIDs and row order are random (CSPRNG); the risks still depend only on the data and the seed.
    other = json.loads((again.release_dir / "attack_report.json").read_text())
    assert {k: v["risk"] for k, v in report["attacks"].items()} == {k: v["risk"] for k, v in other["attacks"].items()}


def test_a_blocking_risk_target_that_fails_stops_the_release(tmp_path, source):
    policy = sound_with(tmp_path, targets={"inference": 0.0}, blocking=True)
    result = ap.run_policy(policy, source=source, workdir=tmp_path / "w")
    inference = {k: v for k, v in result.checks.items() if k.startswith("inference_risk_")}
    assert set(inference) == {"inference_risk_drinks_per_week", "inference_risk_cigarettes_per_week"}
    # k-anonymity alone does not stop inference: the seeded sample's release lets an attacker guess the banded
    # drinking of training rows better than of control rows (the risks depend only on the data and the seed).
    assert not all(inference.values())
    assert not result.released
    assert set(result.failed_checks) <= set(inference)


def test_a_non_blocking_target_warns_and_releases_with_the_report(tmp_path, source):
    policy = sound_with(tmp_path, targets={"inference": 0.0, "singling_out_multivariate": 1.0})
    result = ap.run_policy(policy, source=source, workdir=tmp_path / "w")
    assert result.released and result.checks["singling_out_multivariate_risk"] is True
    outcome = next(o for o in result.check_details if o.name == "singling_out_multivariate_risk")
    assert 0 <= outcome.metadata["ci_low"] <= outcome.metadata["measured"] <= outcome.metadata["ci_high"] <= 1
    assert (result.release_dir / "attack_report.json").is_file()


def test_a_misspelt_target_fails_at_load(tmp_path):
    with pytest.raises(PolicyError, match="evaluation"):
        load_policy(sound_with(tmp_path, targets={"linkabilty": 0.1}))


def test_without_evaluation_no_control_is_held_out(tmp_path, source):
    result = ap.run_policy(variant(tmp_path, privacy__k=2), source=source, workdir=tmp_path / "w")
    assert len(result.anonymised) == 600 and not any(k.endswith("_risk") for k in result.checks)
