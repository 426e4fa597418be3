"""The bundled adult_synthesis policy against issue 12's targets, on the shared adult file: its synthesis fitted on
an 80 % split and attacked (anon_pipeline.attacks) with the other 20 % as the control it never saw."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from anon_pipeline.attacks import attack_report
from anon_pipeline.pipeline.steps import run_steps
from anon_pipeline.policy.load import bind_steps, load_policy
from anon_pipeline.synthesis.privacy import unique_copy_mask
from anon_pipeline_tests.conftest import shared_path

POLICY = Path(__file__).resolve().parents[2] / "policies" / "adult_synthesis.yaml"
SECRET = "salary-class"


def salary_auc(train: pd.DataFrame, test: pd.DataFrame) -> float:
    """Train on ``train``, AUC of P(>50K) on ``test`` (gradient boosting, native categorical splits)."""
    both = pd.concat([train, test], ignore_index=True).drop(columns=[SECRET])
    for c in both.columns:
        if not pd.api.types.is_numeric_dtype(both[c]):
            both[c] = both[c].astype("category")
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    model.fit(both.iloc[:len(train)], train[SECRET] == ">50K")
    return roc_auc_score(test[SECRET] == ">50K", model.predict_proba(both.iloc[len(train):])[:, 1])


@pytest.fixture(scope="module")
def released():
    policy = load_policy(POLICY)
    raw = pd.read_csv(shared_path("data", "adult", "adult.csv"), sep=";")
    perm = np.random.default_rng(policy.seed).permutation(len(raw))
    n_control = round(0.2 * len(raw))
    control = raw.iloc[perm[:n_control]].reset_index(drop=True)
    train = raw.iloc[perm[n_control:]].reset_index(drop=True)
    group = policy.groups[0]
    steps = bind_steps(policy)[1][group.name]
    started = time.perf_counter()
    out, plans, _ = run_steps(train[group.columns], steps, policy, group.name)
    seconds = time.perf_counter() - started
    return train, control, out.reset_index(drop=True), plans[0]["plan"], seconds


def test_adult_synthesis_meets_the_privacy_targets(released):
    train, control, synthetic, plan, _ = released
    qi = [c for c in train.columns if c != SECRET]
    # Every control row as an attack target, so the intervals are as narrow as the split allows.
    report = attack_report(train, synthetic, control, qi, [SECRET], n_attacks=len(control), seed=12)
    risks = {name: r["risk"] for name, r in report["attacks"].items()}
    assert risks[f"inference_{SECRET}"] <= 0.05, risks
    assert risks["linkability"] <= 0.05, risks
    assert risks["singling_out_multivariate"] <= 0.2, risks
    # Copies of training rows unique on all nine columns: fewer than real unseen people happen to be.
    synthetic_share = unique_copy_mask(train, synthetic).mean()
    assert synthetic_share <= unique_copy_mask(train, control).mean()
    assert plan["unique_copies"]["unique_copies_released"] == round(synthetic_share * len(synthetic)) == 0
    assert plan["unique_copies"]["unique_copies_drawn"] > 0   # refusal had something to do


def test_adult_synthesis_is_useful_and_fast(released):
    train, control, synthetic, _, seconds = released
    assert salary_auc(synthetic, control) >= 0.87
    assert seconds <= 2.0
    assert list(synthetic.columns) == list(train.columns) and len(synthetic) == len(train)
    assert synthetic["age"].between(train["age"].min(), train["age"].max()).all()
    assert pd.api.types.is_integer_dtype(synthetic["age"])


def test_policy_loads_and_builds_where_the_shared_folder_is_absent(tmp_path):
    """Definitions load every bundled policy, also on machines without ../shared: nothing may read the source."""
    from anon_pipeline.defs.build import build_definitions

    copy = tmp_path / "project" / "policies" / POLICY.name
    copy.parent.mkdir(parents=True)
    copy.write_text(POLICY.read_text())
    policy = load_policy(copy)
    assert not (policy.base_dir / policy.source.path).exists()
    bind_steps(policy)   # the op and its params are checked at load
    defs = build_definitions([copy], workdir=str(tmp_path / "work"))
    assert defs.resolve_job_def("adult_synthesis_job")
