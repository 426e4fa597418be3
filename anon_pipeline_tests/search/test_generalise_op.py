"""The ``generalise`` op: a frozen JSON plan that replays on new data, and suppression as * or removal."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anon_pipeline.search.ops import Generalise, GeneraliseParams
from anon_pipeline.transforms.registry import FitContext, get_op


def frame(seed: int, n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.integers(18, 80, n), "zip": rng.choice(["13053", "13068", "14850", "14853"], n),
                         "disease": rng.choice(["flu", "cold", "hiv"], n)}, index=np.arange(100, 100 + n))


def op(tmp_path: Path, **kw) -> tuple[Generalise, FitContext]:
    params = {"hierarchies": {"age": {"intervals": [[0, 20, 40, 60, 80], [0, 40, 80]]}, "zip": "zip.csv"},
              "k": 5, "quality": "loss", **kw}
    (tmp_path / "zip.csv").write_text("13053;1305*;130**;*\n13068;1306*;130**;*\n14850;1485*;148**;*\n"
                                      "14853;1485*;148**;*\n", encoding="utf-8")
    return Generalise(GeneraliseParams(**params)), FitContext(column="qis", seed=1, base_dir=tmp_path)


def test_registered_under_generalise():
    import anon_pipeline.search.ops  # noqa: F401
    assert get_op("generalise") is Generalise


def test_plan_is_json_and_replays(tmp_path):
    g, ctx = op(tmp_path, suppression_limit=0.05)
    df = frame(1)
    plan = g.fit(df, ctx)
    assert json.loads(json.dumps(plan)) == plan
    assert {"levels", "suppressed_rows", "nodes_checked", "search_seconds", "lower_neighbours"} <= set(plan)
    out = g.apply(df, plan, ctx)
    assert list(out.index) == list(df.index)
    assert int((out["age"] == "*").sum()) == plan["suppressed_rows"]
    kept = out[out["age"] != "*"]
    assert kept.groupby(["age", "zip"]).size().min() >= 5
    # replay on new data: the same levels, no new search
    new = frame(2, 120)
    again = g.apply(new, plan, ctx)
    level = plan["levels"]["age"]
    expected = {0: new["age"].astype(str), 3: pd.Series("*", index=new.index)}.get(level)
    if expected is not None:
        mask = again["age"] != "*"
        assert (again.loc[mask, "age"] == expected[mask]).all()
    # suppressed there: exactly the rows of the classes that failed at fit (the new data's own counts do not count)
    kept = g.apply(new, plan, FitContext(column="qis", seed=1, base_dir=tmp_path, suppress=False))
    listed = {tuple(c) for c in plan["suppressed_classes"]}
    failed = [tuple(r) in listed for r in kept[list(plan["maps"])].itertuples(index=False, name=None)]
    assert ((again["age"] == "*") == failed).all()


def test_remove_suppressed_rows(tmp_path):
    g, ctx = op(tmp_path, suppression_limit=0.1, suppress="remove", k=8)
    df = frame(3)
    plan = g.fit(df, ctx)
    out = g.apply(df, plan, ctx)
    assert len(out) == len(df) - plan["suppressed_rows"]
    assert out.groupby(["age", "zip"]).size().min() >= 8


def test_l_diversity_needs_sensitive_in_params():
    with pytest.raises(ValueError, match="sensitive"):
        GeneraliseParams(hierarchies={"age": {"mask": 1}}, l=2)


def test_mondrian_strategy(tmp_path):
    g = Generalise(GeneraliseParams(strategy="mondrian", k=10, columns=["age"]))
    ctx = FitContext(column="qis", seed=1, base_dir=tmp_path)
    df = frame(4)
    out = g.apply(df, g.fit(df, ctx), ctx)
    assert out.groupby("age").size().min() >= 10
    assert (out["zip"] == df["zip"]).all()


@pytest.mark.parametrize("covering, named", [
    ({"age": {"intervals": [[0, 20, 40, 60]]}}, '{"intervals": [[0.0, 20.0, 40.0, 60.0]]}'),
    ({"zip": "zip_short.csv"}, "zip_short.csv")])
def test_values_a_hierarchy_does_not_cover_name_the_column_and_the_hierarchy(tmp_path, covering, named):
    from anon_pipeline.errors import TransformError

    (tmp_path / "zip_short.csv").write_text("13053;1305*;130**;*\n13068;1306*;130**;*\n", encoding="utf-8")
    generalise, ctx = op(tmp_path)
    hierarchies = {**generalise.params.hierarchies, **covering}
    generalise = Generalise(GeneraliseParams(**{**generalise.params.model_dump(), "hierarchies": hierarchies}))
    data = frame(3)
    (column,) = covering
    uncovered = data["age"] >= 60 if column == "age" else data["zip"].str.startswith("148")
    with pytest.raises(TransformError) as info:
        generalise.fit(data, ctx)
    err = info.value
    assert (err.column, err.op, err.n_rows) == (column, "generalise", int(uncovered.sum()))
    assert f"hierarchies.{column} (" in str(err) and named in str(err)
    assert f"{data.loc[uncovered, column].nunique()} distinct value(s) have no entry" in str(err)
