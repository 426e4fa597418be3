"""Risk over every released quasi-identifier, whatever set the k target names (figures checked with pandas)."""

import pandas as pd
import pytest

import anon_pipeline as ap
from anon_pipeline.pipeline.checks import check_privacy_targets, planned_privacy_checks
from anon_pipeline.policy import load_policy, parse_policy
from anon_pipeline_tests.pipeline.policies import ROOT, variant

SOUND = ROOT / "policies" / "insurance_customers_k5.yaml"


def small_policy(**privacy):
    return parse_policy({"name": "t", "seed": 1, "privacy": {"k": 2, **privacy},
                         "columns": {"a": {"role": "quasi_identifier"}, "b": {"role": "quasi_identifier"},
                                     "c": {"role": "quasi_identifier"}}})


TABLE = pd.DataFrame({"guid": list("123456"), "a": ["x", "x", "x", "y", "y", "y"],
                      "b": ["p", "p", "p", "q", "q", "q"], "c": ["1", "1", "2", "3", "4", "4"]})


def pandas_figures(frame, columns):
    sizes = frame.groupby(columns).size()
    return int(sizes.min()), float((sizes == 1).sum() / len(frame))


def test_narrowed_k_set_gets_a_warning_with_the_figures_over_all():
    outcomes = {o.name: o for o in check_privacy_targets(TABLE, small_policy(quasi_identifiers=["a"]))}
    k_all, unique_share = pandas_figures(TABLE, ["a", "b", "c"])
    wide = outcomes["all_quasi_identifiers"]
    assert outcomes["k_anonymity"].passed and outcomes["k_anonymity"].metadata["measured"] == 3
    assert not wide.passed and not wide.blocking
    assert wide.metadata["measured"] == k_all == 1
    assert wide.metadata["sample_unique_share"] == pytest.approx(unique_share)
    assert wide.metadata["prosecutor_risk_max"] == 1.0
    assert "a, b, c" in wide.description


def test_every_k_check_shows_uniques_and_prosecutor_risk():
    outcome = next(o for o in check_privacy_targets(TABLE, small_policy(quasi_identifiers=["a", "b"]))
                   if o.name == "k_anonymity")
    k, unique_share = pandas_figures(TABLE, ["a", "b"])
    assert outcome.metadata["measured"] == k == 3
    assert outcome.metadata["sample_unique_share"] == pytest.approx(unique_share)
    assert outcome.metadata["prosecutor_risk_max"] == pytest.approx(1 / k)


def test_no_narrowing_no_extra_check_and_planned_names_match():
    for policy in (small_policy(), small_policy(quasi_identifiers=["a", "b"])):
        measured = [(o.name, o.blocking) for o in check_privacy_targets(TABLE, policy)]
        assert measured == planned_privacy_checks(policy)
    assert "all_quasi_identifiers" not in dict(planned_privacy_checks(small_policy()))


def test_blocking_all_quasi_identifiers_stops_the_release(tmp_path):
    policy = variant(tmp_path, privacy__all_quasi_identifiers={"blocking": True})
    result = ap.run_policy(policy, workdir=tmp_path / "w")
    assert result.checks["k_anonymity"] and not result.checks["all_quasi_identifiers"]
    assert not result.released and "all_quasi_identifiers" in result.failed_checks


def test_notebook_policy_warns_on_the_shared_file_and_the_sound_one_releases_k5(tmp_path, insurance_csv):
    notebook = ap.run_policy(ROOT / "policies" / "insurance_customers.yaml", source=insurance_csv,
                             workdir=tmp_path / "a")
    wide = notebook.anonymity["all_quasi_identifiers"]
    assert notebook.released and notebook.anonymity["K"] == 15
    assert wide["K"] == 1 and wide["sample_unique_share"] >= 0.99 and "warning" in wide
    assert notebook.checks["all_quasi_identifiers"] is False

    sound = ap.run_policy(SOUND, source=insurance_csv, workdir=tmp_path / "b")
    assert sound.released
    released = pd.read_parquet(sound.release_dir / "anonymised.parquet")
    qis = [load_policy(SOUND).output_name(c) for c in load_policy(SOUND).quasi_identifiers]
    assert len(qis) == 8
    assert released.groupby(qis, dropna=False).size().min() >= 5
    assert len(released) >= 0.95 * 1000   # at most the 5 % suppression limit was removed


def test_a_table_of_stars_only_is_explained_not_just_k_zero():
    """Every row at '*' in every quasi-identifier counts as suppressed: K is 0 with no class below k, which the
    check's text explains instead of leaving "K = 0, rows_below_k = 0" to puzzle over."""
    stars = TABLE.assign(a="*", b="*", c="*")
    outcome = next(o for o in check_privacy_targets(stars, small_policy()) if o.name == "k_anonymity")
    assert not outcome.passed and outcome.metadata["K"] == 0 and outcome.metadata["rows_below_k"] == 0
    assert outcome.metadata["n_suppressed"] == len(TABLE)
    assert f"all {len(TABLE)} rows have every quasi-identifier at '*'" in outcome.description
    partly = TABLE.assign(a=["*"] * 3 + ["y"] * 3, b=["*"] * 3 + ["q"] * 3, c=["*"] * 3 + ["4"] * 3)
    outcome = next(o for o in check_privacy_targets(partly, small_policy()) if o.name == "k_anonymity")
    assert outcome.metadata["K"] == 3 and outcome.metadata["n_suppressed"] == 3
    assert outcome.description.startswith("K = 3 >= k = 2")


def test_a_target_with_nothing_to_measure_says_so():
    from anon_pipeline.criteria.base import TargetResult

    empty = TargetResult("l_diversity_d", False, False, None, 2, {"comparison": ">="})
    assert empty.description() == ("l_diversity_d: nothing to measure (no equivalence class is left), so it misses "
                                   "target >= 2")
    assert TargetResult("l_diversity_d", False, False, 1, 2, {"comparison": ">="}).description() == \
        "l_diversity_d: measured 1 misses target >= 2"
