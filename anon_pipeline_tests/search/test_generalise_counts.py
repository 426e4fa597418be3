"""``generalise`` for the streaming engine: a fit on distinct rows with counts gives the plan of a fit on every
row, and apply (strategy optimal) gives each row the same output whatever batch it comes in."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anon_pipeline.errors import TransformError
from anon_pipeline.search import optimal
from anon_pipeline.search.ops import Generalise, GeneraliseParams
from anon_pipeline.search.quality import QUALITY_MODELS
from anon_pipeline.transforms.registry import FitContext, FitNeeds
from anon_pipeline_tests.conftest import shared_path
from anon_pipeline_tests.search.test_optimal_small import HIER

ADULT_QIS = ["sex", "age", "race", "marital-status", "education", "native-country", "workclass", "occupation",
             "salary-class"]
#: what the plans of both fits must share (search_seconds differs, the rest is the search's result)
SAME = ("levels", "chosen_node", "quality", "suppressed_rows", "suppression_budget", "lattice_size",
        "lower_neighbours", "maps", "suppressed_classes")


def distinct_with_counts(df: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Each distinct row of ``df`` once, shuffled (the engine promises no order), and how many rows it stands for."""
    counts = df.value_counts(dropna=False).reset_index()
    counts = counts.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return counts[list(df.columns)], counts["count"].to_numpy()


def fit_both(g: Generalise, df: pd.DataFrame, ctx: FitContext) -> tuple[dict, dict]:
    rows, weights = distinct_with_counts(df)
    assert len(rows) < len(df)  # the weights matter
    full = g.fit(df, ctx)
    counted = g.fit(rows, FitContext(column=ctx.column, seed=ctx.seed, base_dir=ctx.base_dir, weights=weights))
    return full, counted


def assert_same_plan(full: dict, counted: dict) -> None:
    for key in SAME:
        assert counted[key] == full[key], key
    assert math.isclose(counted["score"], full["score"], rel_tol=1e-12, abs_tol=1e-12)
    assert json.loads(json.dumps(counted)) == counted


# --- adult: every ARX criterion of test_adult plus t-closeness, each quality model with suppression -------------

ADULT_CASES = [
    (dict(k=5), 0.0, "loss"),
    (dict(k=5), 0.02, "loss"),
    (dict(k=5), 0.04, "nu_entropy"),
    (dict(k=10), 0.02, "nu_entropy_nm"),
    (dict(k=10), 0.02, "discernibility"),
    (dict(k=10), 0.02, "aecs"),
    (dict(k=10), 0.02, "precision"),
    (dict(k=10), 0.02, "height"),
    (dict(l=5, l_variant="entropy", sensitive="occupation"), 0.04, "nu_entropy_nm"),
    (dict(l=3, sensitive="occupation"), 0.02, "loss"),
    (dict(k=5, t=0.2, sensitive="salary-class"), 0.02, "loss"),
]


@pytest.fixture(scope="module")
def adult() -> tuple[pd.DataFrame, Path]:
    folder = shared_path("data", "adult")
    return pd.read_csv(folder / "adult.csv", sep=";", dtype=str, keep_default_na=False)[ADULT_QIS], folder


@pytest.mark.parametrize("criteria, limit, quality", ADULT_CASES)
def test_adult_counts_give_the_plan_of_every_row(adult, criteria, limit, quality):
    df, folder = adult
    qis = [c for c in ADULT_QIS if c != criteria.get("sensitive")]
    g = Generalise(GeneraliseParams(hierarchies={c: f"adult_hierarchy_{c}.csv" for c in qis},
                                    suppression_limit=limit, quality=quality, **criteria))
    full, counted = fit_both(g, df, FitContext(column="adult", seed=1, base_dir=folder))
    assert_same_plan(full, counted)
    assert counted["suppression_budget"] == math.floor(limit * len(df))
    if limit:
        assert counted["suppressed_rows"] > 0 and counted["suppressed_classes"]


# --- small hand tables: every criterion and quality model ------------------------------------------------------

def small(seed: int, n: int = 300) -> pd.DataFrame:
    """Few distinct rows, so most stand for several."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "age": rng.integers(20, 32, n).astype(str),
        "sex": rng.choice(["M", "F"], n),
        "zip": rng.choice(HIER["zip"][0].to_numpy()[:5], n),
        "disease": rng.choice(["flu", "cold", "cancer", "hiv"], n, p=[0.4, 0.3, 0.2, 0.1]),
        "score": rng.choice(["1", "2", "3", "4", "5"], n),
    })


CRITERIA = [
    dict(k=4),
    dict(l=2, sensitive="disease"),
    dict(l=2, l_variant="entropy", sensitive="disease"),
    dict(k=2, t=0.3, sensitive="disease"),
    dict(t=0.25, t_variant="ordered", sensitive="score"),
]


@pytest.mark.parametrize("quality", QUALITY_MODELS)
@pytest.mark.parametrize("criteria", CRITERIA, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
@pytest.mark.parametrize("limit", [0.0, 0.08])
def test_small_counts_give_the_result_of_every_row(criteria, quality, limit):
    df = small(7)
    rows, weights = distinct_with_counts(df, seed=3)
    assert weights.max() > 1
    full = optimal(df, HIER, quality=quality, suppression_limit=limit, **criteria)
    counted = optimal(rows, HIER, quality=quality, suppression_limit=limit, weights=weights, **criteria)
    assert counted.levels == full.levels
    assert counted.suppressed == full.suppressed and counted.n_rows == full.n_rows == len(df)
    assert counted.max_suppressed == full.max_suppressed
    assert math.isclose(counted.score, full.score, rel_tol=1e-12, abs_tol=1e-12)
    assert counted.lower_neighbours == full.lower_neighbours
    # the mask marks the distinct rows standing for exactly the suppressed rows of the table
    assert int(weights[counted.suppressed_mask].sum()) == full.suppressed


def test_weights_are_checked():
    df = small(1, 20)
    with pytest.raises(ValueError, match="3 entries for a table of 20 rows"):
        optimal(df, HIER, k=2, weights=[1, 2, 3])
    with pytest.raises(ValueError, match="at least 1"):
        optimal(df, HIER, k=2, weights=np.zeros(20, dtype=int))
    with pytest.raises(ValueError, match="whole row counts"):
        optimal(df, HIER, k=2, weights=np.full(20, 1.5))


# --- apply row by row --------------------------------------------------------------------------------------------

def small_op(tmp_path: Path, **kw) -> tuple[Generalise, FitContext]:
    g = Generalise(GeneraliseParams(hierarchies={"age": {"intervals": [[20, 24, 28, 32], [20, 32]]},
                                                 "zip": {"mask": 1}, "sex": {"groups": [{"M": "*", "F": "*"}]}},
                                    quality="loss", **kw))
    return g, FitContext(column="qis", seed=1, base_dir=tmp_path)


def batched(g: Generalise, df: pd.DataFrame, plan: dict, ctx: FitContext, size: int) -> pd.DataFrame:
    return pd.concat([g.apply(df.iloc[i:i + size], plan, ctx) for i in range(0, len(df), size)])


@pytest.mark.parametrize("suppress", ["remove", "star"])
@pytest.mark.parametrize("criteria", [dict(k=6, suppression_limit=0.05),
                                      dict(k=3, l=3, sensitive="disease", suppression_limit=0.1)], ids=["k", "k+l"])
def test_apply_by_batches_equals_apply_on_the_table(tmp_path, suppress, criteria):
    g, ctx = small_op(tmp_path, suppress=suppress, **criteria)
    df = small(11).set_index(pd.RangeIndex(500, 800))[["age", "sex", "zip", "disease"]]
    rows, weights = distinct_with_counts(df)
    plan = g.fit(rows, FitContext(column="qis", seed=1, base_dir=tmp_path, weights=weights))
    assert plan["suppressed_rows"] > 0
    whole = g.apply(df, plan, ctx)
    expected_rows = len(df) - plan["suppressed_rows"] if suppress == "remove" else len(df)
    assert len(whole) == expected_rows
    if suppress == "star":
        assert int((whole["age"] == "*").sum()) == plan["suppressed_rows"]
    pd.testing.assert_frame_equal(batched(g, df, plan, ctx, 7), whole)
    # Row by row (300 calls on the whole table took 12 s): every suppressed row and the first 40 others.
    suppressed = df.index.difference(whole.index) if suppress == "remove" else whole.index[whole["age"] == "*"]
    part = df[df.index.isin(suppressed) | (np.arange(len(df)) < 40)]
    assert part.index.isin(suppressed).sum() == plan["suppressed_rows"]
    pd.testing.assert_frame_equal(batched(g, part, plan, ctx, 1), whole[whole.index.isin(part.index)])
    # the attack evaluation's domain mapping keeps every row, batch by batch too
    keep = FitContext(column="qis", seed=1, base_dir=tmp_path, suppress=False)
    assert len(batched(g, df, plan, keep, 7)) == len(df)


def test_replay_suppresses_listed_classes_only(tmp_path):
    g, ctx = small_op(tmp_path, k=6, suppression_limit=0.05, suppress="remove")
    df = small(11)[["age", "sex", "zip"]]
    plan = g.fit(df, ctx)
    listed = [tuple(c) for c in plan["suppressed_classes"]]
    assert listed
    gen = g.apply(df, plan, FitContext(column="qis", seed=1, base_dir=tmp_path, suppress=False))[list(plan["maps"])]
    kept_class = next(iter(gen.drop_duplicates().itertuples(index=False, name=None)))
    assert kept_class not in listed
    source = {tuple(r): i for i, r in zip(df.index, gen.itertuples(index=False, name=None))}
    # new data: one row of a kept class (a class of 1 now, not suppressed), ten of a listed one (suppressed)
    new = pd.concat([df.loc[[source[kept_class]]], df.loc[[source[listed[0]]] * 10]], ignore_index=True)
    out = g.apply(new, plan, ctx)
    assert list(out.index) == [0]
    # an unseen value of an interval hierarchy is generalised at the fitted level, its class kept
    unseen = pd.DataFrame({"age": ["30"], "sex": ["F"], "zip": ["99999"]})
    assert len(g.apply(unseen, plan, ctx)) == 1


def test_plan_without_a_class_list_checks_what_it_is_given(tmp_path):
    """A plan fitted before the classes were listed replays as it did: the classes of the rows it is given."""
    g, ctx = small_op(tmp_path, k=6, suppression_limit=0.05, suppress="remove")
    df = small(11)[["age", "sex", "zip"]]
    plan = g.fit(df, ctx)
    old = {k: v for k, v in plan.items() if k != "suppressed_classes"}
    assert g.apply(df, old, ctx).equals(g.apply(df, plan, ctx))
    assert len(g.apply(df.iloc[:3], old, ctx)) < 3


def test_fit_needs_and_batch_safety_per_strategy(tmp_path):
    optimal_op, _ = small_op(tmp_path, k=2)
    mondrian_op = Generalise(GeneraliseParams(strategy="mondrian", k=5, columns=["age"]))
    assert (optimal_op.fit_needs, optimal_op.row_local, optimal_op.batch_safe()) == (FitNeeds.COUNTS, True, True)
    assert (mondrian_op.fit_needs, mondrian_op.row_local, mondrian_op.batch_safe()) == (FitNeeds.ROWS, False, False)
    # asked on the class: the default that holds for either strategy
    assert (Generalise.fit_needs, Generalise.row_local, Generalise.batch_safe()) == (FitNeeds.ROWS, False, False)
    df = pd.DataFrame({"age": np.arange(20, 40)})
    with pytest.raises(TransformError, match="every row"):
        mondrian_op.fit(df, FitContext(column="qis", seed=1, weights=np.ones(20, dtype=int)))


def test_values_without_a_hierarchy_entry_are_counted_by_row(tmp_path):
    g, ctx = small_op(tmp_path, k=2)
    plan = g.fit(small(11)[["age", "sex", "zip"]], ctx)
    new = pd.DataFrame({"age": ["25"] * 5, "sex": ["X", "X", "X", None, "M"], "zip": ["13053"] * 5})
    with pytest.raises(TransformError, match="no entry in the hierarchy") as err:
        g.apply(new, plan, ctx)
    assert err.value.n_rows == 4 and "X" not in str(err.value)
