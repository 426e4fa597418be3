"""Optimality on small tables: the search's optimum equals the best node of an exhaustive, naive evaluation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anon_pipeline.search import apply_levels, optimal
from anon_pipeline.search.quality import QUALITY_MODELS
from anon_pipeline_tests.search.reference import evaluate, exhaustive

AGE = pd.DataFrame([[str(a), f"{a // 10 * 10}-{a // 10 * 10 + 9}", "<40" if a < 40 else ">=40", "*"]
                    for a in range(20, 60)])
SEX = pd.DataFrame([["M", "*"], ["F", "*"]])
ZIP = pd.DataFrame([[z, z[:3] + "**", z[:1] + "****", "*"] for z in
                    ("13053", "13068", "13067", "14850", "14853", "14857", "13021", "14821")])


def table(seed: int, n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "age": rng.integers(20, 60, n).astype(str),
        "sex": rng.choice(["M", "F"], n),
        "zip": rng.choice(ZIP[0].to_numpy(), n),
        "disease": rng.choice(["flu", "cold", "cancer", "hiv"], n, p=[0.4, 0.3, 0.2, 0.1]),
    })


HIER = {"age": AGE, "sex": SEX, "zip": ZIP}


def assert_optimal(df, hierarchies, **kw):
    nodes = exhaustive(df, hierarchies, **kw)
    result = optimal(df, hierarchies, **kw)
    best = min(nodes.values())
    assert math.isclose(result.score, best, rel_tol=1e-9, abs_tol=1e-9)
    chosen = tuple(result.levels[c] for c in hierarchies)
    assert chosen in nodes and math.isclose(nodes[chosen], best, rel_tol=1e-9, abs_tol=1e-9)
    # the documented tie-break: fewest levels in total among equally good nodes
    ties = [lv for lv, s in nodes.items() if math.isclose(s, best, rel_tol=1e-12, abs_tol=1e-12)]
    assert sum(chosen) == min(sum(lv) for lv in ties)
    assert result.suppressed == evaluate(df, hierarchies, chosen, **kw)[2]
    return result


@pytest.mark.parametrize("quality", QUALITY_MODELS)
@pytest.mark.parametrize("limit", [0.0, 0.1])
def test_k_anonymity_every_quality_model(quality, limit):
    assert_optimal(table(1), HIER, k=3, suppression_limit=limit, quality=quality)


@pytest.mark.parametrize("kw", [
    dict(l=2, l_variant="distinct", sensitive="disease", suppression_limit=0.1),
    dict(l=2, l_variant="entropy", sensitive="disease", suppression_limit=0.1, quality="nu_entropy_nm"),
    dict(k=2, t=0.3, sensitive="disease", suppression_limit=0.05),
    dict(k=2, l=2, l_variant="entropy", t=0.4, sensitive="disease", quality="discernibility"),
])
def test_l_diversity_and_t_closeness_alone_and_combined(kw):
    kw = {"quality": "loss", **kw}
    assert_optimal(table(2, 80), HIER, **kw)


def test_ordered_t_closeness_on_a_numeric_sensitive_column():
    df = table(6, 80)
    df["claims"] = np.random.default_rng(6).integers(0, 6, len(df))
    assert_optimal(df, HIER, k=2, t=0.2, t_variant="ordered", sensitive="claims", suppression_limit=0.05)


def test_lower_neighbours_are_reported():
    result = assert_optimal(table(3), HIER, k=4, quality="loss")
    for entry in result.lower_neighbours:
        assert entry["satisfies"] is False or entry["score"] >= result.score
        assert entry["levels"][entry["column"]] == result.levels[entry["column"]] - 1


def test_no_solution_is_an_error():
    df = table(4, 10)
    with pytest.raises(ValueError, match="no generalisation"):
        optimal(df, HIER, k=11)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(8, 50), k=st.integers(2, 6),
       limit=st.sampled_from([0.0, 0.05, 0.2]), quality=st.sampled_from(["loss", "nu_entropy", "precision"]))
def test_pruning_never_skips_the_optimum(seed, n, k, limit, quality):
    df = table(seed, n)
    hierarchies = {"age": AGE, "zip": ZIP}
    nodes = exhaustive(df, hierarchies, k=k, suppression_limit=limit, quality=quality)
    if not nodes:
        with pytest.raises(ValueError):
            optimal(df, hierarchies, k=k, suppression_limit=limit, quality=quality)
        return
    result = optimal(df, hierarchies, k=k, suppression_limit=limit, quality=quality)
    assert math.isclose(result.score, min(nodes.values()), rel_tol=1e-9, abs_tol=1e-9)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(10, 60), limit=st.sampled_from([0.0, 0.1, 0.3]),
       crit=st.sampled_from([dict(l=2, l_variant="entropy"), dict(l=2), dict(t=0.25), dict(k=2, t=0.35),
                             dict(k=3, l=2, l_variant="entropy")]),
       quality=st.sampled_from(["loss", "nu_entropy_nm", "discernibility", "aecs"]))
def test_pruning_never_skips_the_optimum_with_l_and_t(seed, n, limit, crit, quality):
    df = table(seed, n)
    hierarchies = {"age": AGE, "zip": ZIP}
    kw = dict(crit, sensitive="disease", suppression_limit=limit, quality=quality)
    nodes = exhaustive(df, hierarchies, **kw)
    if not nodes:
        with pytest.raises(ValueError):
            optimal(df, hierarchies, **kw)
        return
    result = optimal(df, hierarchies, **kw)
    assert math.isclose(result.score, min(nodes.values()), rel_tol=1e-9, abs_tol=1e-9)


def test_apply_levels_generalises_and_suppresses():
    df = table(5)
    result = optimal(df, HIER, k=4, suppression_limit=0.1)
    out = apply_levels(df, HIER, result.levels, suppressed=result.suppressed_mask)
    assert int((out["age"] == "*").sum()) >= result.suppressed
    kept = out.loc[~result.suppressed_mask]
    assert kept.groupby(list(HIER)).size().min() >= 4
    removed = apply_levels(df, HIER, result.levels, suppressed=result.suppressed_mask, suppress="remove")
    assert len(removed) == len(df) - result.suppressed
