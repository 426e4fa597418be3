"""cart_synthesis and the defaults issue 12 asked for: copies of unique training rows counted and refused,
integers with many values smoothed, kernel draws kept inside the observed range."""

import json

import numpy as np
import pandas as pd
import pytest

from anon_pipeline.errors import TransformError
from anon_pipeline.synthesis.cart import CartSynthesizer, _tree_target
from anon_pipeline.synthesis.ops import CartSynthesis, DiscreteSynthesis, GroupedSynthesis, KdeSynthesis
from anon_pipeline.synthesis.privacy import unique_copy_mask
from anon_pipeline.transforms.registry import FitContext, FitNeeds

CTX = FitContext(column="g", seed=5)


def people(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """region decides the job (a rule CART must keep), income rises with age, and a rare city makes unique rows."""
    rng = np.random.default_rng(seed)
    region = rng.choice(["north", "south", "east"], n)
    job = np.where(region == "north", "miner", np.where(region == "south", "farmer", "clerk"))
    age = rng.integers(18, 80, n)
    income = 1000.0 * age + rng.normal(0, 2000, n)
    city = np.array([f"c{i}" for i in rng.integers(0, n // 3, n)])
    return pd.DataFrame({"region": region, "job": job, "age": age, "income": income, "city": city})


def test_cart_keeps_the_dependence_range_and_types():
    df = people()
    op = CartSynthesis(CartSynthesis.Params(min_leaf=10, refuse_unique_copies=False))
    plan = op.fit(df, CTX)
    out = op.apply(df, plan, CTX)
    assert list(out.columns) == list(df.columns) and out.index.equals(df.index)
    # The deterministic rule region -> job survives in every synthetic row.
    rule = {"north": "miner", "south": "farmer", "east": "clerk"}
    assert (out["job"] == out["region"].map(rule)).all()
    # Income follows age (r about 0.99 in the data); smoothed values stay inside the observed range.
    assert np.corrcoef(out["age"], out["income"])[0, 1] > 0.9
    for c in ("age", "income"):
        assert out[c].between(df[c].min(), df[c].max()).all()
    assert pd.api.types.is_integer_dtype(out["age"]) and set(out["city"]) <= set(df["city"])
    # Smoothing makes new incomes rather than copying a donor's.
    assert out["income"].isin(df["income"]).mean() < 0.01
    # The plan: settings and seeds, JSON, and no value of the data.
    text = json.dumps(plan)
    assert plan["continuous"] == ["age", "income"] and plan["order"] == list(df.columns)
    assert not any(v in text for v in ("north", "miner", "c1"))


def test_min_leaf_bounds_every_leaf_and_replay_is_reproducible():
    df = people()
    cart = CartSynthesizer(df, ["age", "income"], np.random.default_rng(1), min_leaf=40)
    for _, _, sizes in cart.leaves[1:]:
        assert sizes[sizes > 0].min() >= 40
    op = CartSynthesis(CartSynthesis.Params())
    plan = op.fit(df, CTX)
    handed = op.apply(df, plan, CTX)
    replayed = CartSynthesis(CartSynthesis.Params()).apply(df.copy(), plan, CTX)  # no hand-off: draws again
    pd.testing.assert_frame_equal(handed, replayed)


def test_unique_copies_are_counted_and_refused():
    df = people()[["region", "job", "city"]]
    unique_rows = int(unique_copy_mask(df, df).sum())
    assert unique_rows > 100
    # discrete_synthesis over every column is a bootstrap: it copies unique rows, and its plan says how many.
    op = DiscreteSynthesis(DiscreteSynthesis.Params())
    plan = op.fit(df, CTX)
    out = op.apply(df, plan, CTX)
    copies = plan["unique_copies"]
    assert copies["unique_copies_drawn"] == copies["unique_copies_released"] == unique_copy_mask(df, out).sum() > 0
    refusing = DiscreteSynthesis(DiscreteSynthesis.Params(refuse_unique_copies=True))
    plan = refusing.fit(df, CTX)
    out = refusing.apply(df, plan, CTX)
    assert not unique_copy_mask(df, out).any() and len(out) == len(df)
    assert plan["unique_copies"]["unique_copies_drawn"] > 0 and plan["unique_copies"]["unique_copies_released"] == 0
    assert plan["unique_copies"]["redraw_rounds"] >= 1
    # Every row unique: nothing can be kept, and the op says so without values.
    with pytest.raises(TransformError, match="every drawn row copies a unique training row"):
        DiscreteSynthesis(DiscreteSynthesis.Params(refuse_unique_copies=True)).fit(df.head(50).assign(
            city=[f"x{i}" for i in range(50)]), CTX)


def test_grouped_synthesis_smooths_integers_with_many_values():
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"age": rng.integers(18, 90, 2000), "children": rng.integers(0, 5, 2000),
                       "sex": rng.choice(["F", "M"], 2000)})
    op = GroupedSynthesis(GroupedSynthesis.Params(grouping="single"))
    plan = op.fit(df, CTX)
    sub = plan["subgroups"][0]
    assert sub["op"] == "kde_synthesis" and sub["plan"]["kde"]["columns"] == ["age"]
    assert sub["plan"]["discrete"] == ["children", "sex"]
    out = op.apply(df, plan, CTX)
    assert pd.api.types.is_integer_dtype(out["age"]) and pd.api.types.is_integer_dtype(out["children"])
    assert out["age"].between(18, 89).all()
    # A sparse integer (an amount) is drawn around its source row, not copied: few values are real ones.
    amounts = pd.DataFrame({"amount": rng.integers(0, 100_000, 500), "sex": rng.choice(["F", "M"], 500)})
    op = GroupedSynthesis(GroupedSynthesis.Params(grouping="single"))
    assert op.apply(amounts, op.fit(amounts, CTX), CTX)["amount"].isin(amounts["amount"]).mean() < 0.1
    few = GroupedSynthesis(GroupedSynthesis.Params(grouping="single", integer_categories=100)).fit(df, CTX)
    assert few["subgroups"][0]["op"] == "discrete_synthesis"


def test_kde_stays_inside_the_observed_range_by_default():
    rng = np.random.default_rng(4)
    df = pd.DataFrame({"x": rng.exponential(1.0, 3000), "y": rng.uniform(0, 1, 3000)})
    out = KdeSynthesis(KdeSynthesis.Params()).apply(df, KdeSynthesis(KdeSynthesis.Params()).fit(df, CTX), CTX)
    for c in df.columns:
        assert out[c].between(df[c].min(), df[c].max()).all()
        # Reflected, not clipped: no mass piles up on the real minimum or maximum.
        assert not out[c].isin([df[c].min(), df[c].max()]).any()
    loose = KdeSynthesis(KdeSynthesis.Params(clip=False))
    out = loose.apply(df, loose.fit(df, CTX), CTX)
    assert (out["y"] > 1).any() or (out["y"] < 0).any()


@pytest.mark.parametrize("min_leaf", [1, 7, 40, 2000])
def test_trees_on_weighted_distinct_rows_are_the_trees_on_every_row(min_leaf):
    """Each tree fits on the distinct rows with their counts as weights (for speed); its leaves must be those of
    scikit-learn's tree on every row with min_samples_leaf, including a numeric predictor with missing values
    and, for min_leaf 2000, fewer rows than two leaves need."""
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    df = people(3000)
    df["income"] = df["income"].round(-3).where(df["age"] % 7 != 0)   # repeats, and NaN in a numeric predictor
    df["band"] = df["age"] // 10
    cart = CartSynthesizer(df, ["age", "income"], np.random.default_rng(2), min_leaf=min_leaf)
    splits = 0
    for j, col in enumerate(cart.columns[1:], start=1):
        kind = DecisionTreeRegressor if col.continuous else DecisionTreeClassifier
        x = cart._features([c.x for c in cart.columns], j)
        full = kind(min_samples_leaf=min_leaf, random_state=cart.trees[j].random_state).fit(
            x, _tree_target(col))
        order, _, sizes = cart.leaves[j]
        leaf = np.repeat(np.arange(len(sizes)), sizes)[np.argsort(order)]   # each training row's leaf
        np.testing.assert_array_equal(leaf, full.apply(x))
        np.testing.assert_array_equal(cart.trees[j].tree_.threshold, full.tree_.threshold)
        assert sizes[sizes > 0].min() >= min(min_leaf, len(df))
        splits += full.tree_.node_count > 1
    assert splits == (0 if min_leaf == 2000 else len(cart.columns) - 1)


def test_cart_declares_that_it_fits_on_every_row_in_one_batch():
    assert CartSynthesis.fit_needs is FitNeeds.ROWS and CartSynthesis.draws_by_position
    assert not CartSynthesis.row_local and not CartSynthesis.batch_safe()
