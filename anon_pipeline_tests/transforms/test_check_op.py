"""``check_op`` over every registered op and the example plugin, and proof that it catches broken ops."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pandas as pd
import pytest

from anon_pipeline.errors import TransformError
from anon_pipeline.testing import OpCheckFailed, check_op
from anon_pipeline.transforms import ColumnOp, OpParams, registered_ops, registry
from anon_pipeline_tests.pipeline.policies import ROOT

N = 40
rng = np.random.default_rng(7)
_ages = pd.Series(rng.integers(18, 80, N), name="age")
_cats = pd.Series(np.array(["red", "green", "blue", "grey"])[np.arange(N) % 4], name="colour")
_dates = pd.Series(pd.to_datetime("1950-01-01") + pd.to_timedelta(rng.integers(0, 20000, N), unit="D"),
                   name="born")
_text_dates = _dates.dt.strftime("%Y-%m-%d").rename("born")
_table = pd.DataFrame({"age": _ages, "zip": np.array(["13053", "13068", "14850", "14853"])[np.arange(N) % 4],
                       "disease": np.array(["flu", "cold", "hiv"])[np.arange(N) % 3]})
_zip_hierarchy = [["13053", "1305*", "*"], ["13068", "1306*", "*"], ["14850", "1485*", "*"],
                  ["14853", "1485*", "*"]]
_numeric = pd.DataFrame({"x": rng.normal(50, 10, N), "y": rng.normal(5, 1, N)})
_mixed = _numeric.assign(z=_cats.to_numpy())

#: op name -> (params, sample, keyword arguments for check_op). Row-local ops that do not declare value_wise
#: say so with row_local=True; a failing input is given where the planted probes are accepted by design.
CASES: dict[str, tuple[dict, pd.Series | pd.DataFrame, dict]] = {
    "age": ({}, _text_dates, {"failing": [(_text_dates.where(_text_dates.index != 3, "2999-07-13"),
                                           "2999-07-13")]}),
    "band": ({"edges": [0, 30, 50, 100]}, _ages, {}),
    "country_continent": ({}, pd.Series(["France", "Japan", "Brazil", "Kenya"] * 10, name="country"), {}),
    "encode": ({}, _cats, {"seeded": False}),
    "hierarchy": ({"table": _zip_hierarchy, "level": 1}, _table["zip"], {}),
    "postcode_region": ({"unknown_label": None},
                        pd.Series(["SW1A 1AA", "M1 1AE", "EH1 1YZ", "CF10 1EP"] * 10, name="postcode"), {}),
    "regroup": ({"groups": {"warm": ["red"], "cool": ["green", "blue"], "none": ["grey"]}}, _cats, {}),
    "pseudonym": ({"key_env": "CHECK_OP_PSEUDONYM_KEY"}, pd.Series([f"id{i}" for i in range(N)], name="id"),
                  {"row_local": True}),
    "mask": ({"n": 2}, pd.Series([f"AB{i:05d}" for i in range(N)], name="account"), {"row_local": True}),
    "email_domain": ({}, pd.Series([f"p{i}@example.org" for i in range(N)], name="email"), {"row_local": True}),
    "uk_phone_area_code": ({}, pd.Series(["0113 496 0000", "020 7946 0000", "07700 900123"] * 13 + ["0161 496 0000"],
                                          name="phone"), {"row_local": True}),
    "rare_value_merge": ({"level": 50}, pd.Series(["a"] * 20 + ["b"] * 15 + ["c"] * 4 + ["d"], name="cat"),
                         {"row_local": True}),
    "datetime_partition": ({"partition": "age_bands"}, _ages, {"row_local": True}),
    # Noise is drawn per position in the batch: the same row in another batch gets another draw.
    "gaussian_noise": ({"scale": 0.1}, _numeric["x"], {}),
    "generalise": ({"hierarchies": {"age": {"intervals": [[0, 20, 40, 60, 80], [0, 40, 80]]},
                                    "zip": {"mask": 2}}, "k": 3}, _table, {}),
    "discrete_synthesis": ({}, _table, {}),
    "kde_synthesis": ({"discrete": ["z"]}, _mixed, {}),
    "grouped_synthesis": ({}, _mixed, {}),
    "cart_synthesis": ({"min_leaf": 5}, _mixed, {}),
    # Its noise comes from OpenDP's CSPRNG, never from the seed (a seed in a YAML file would let anyone remove it).
    "dp_mst_synthesis": ({"epsilon": 5, "columns": {"age": {"bounds": [0, 100], "bins": 5},
                                                    "zip": {"values": ["13053", "13068", "14850", "14853"]},
                                                    "disease": {"values": ["flu", "cold", "hiv"]}}},
                         _table, {"seeded": False}),
}


@pytest.fixture(autouse=True)
def _pseudonym_key(monkeypatch):
    monkeypatch.setenv("CHECK_OP_PSEUDONYM_KEY", "a-test-key-of-more-than-sixteen-bytes")


def test_every_registered_op_has_a_case():
    shipped = {n for n, cls in registered_ops().items() if cls.__module__.startswith("anon_pipeline.")}
    assert shipped == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_op_passes_on_every_registered_op(name):
    params, data, kw = CASES[name]
    report = check_op(name, params, data, **kw)
    expected = ["plan_json", "replay", "seeded", "error_values"]
    if kw.get("row_local") or getattr(registered_ops()[name], "value_wise", False):
        expected.insert(3, "batches")
    assert report.passed == expected


def test_the_bundled_ops_fail_cleanly_on_the_planted_probes():
    # The probes do make these ops fail, so the error check is exercised, not skipped.
    for name in ("band", "age", "regroup", "hierarchy", "country_continent", "postcode_region", "email_domain",
                 "generalise", "kde_synthesis"):
        params, data, kw = CASES[name]
        assert check_op(name, params, data, **kw).raised_probes, name


def test_example_plugin(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "examples" / "anon_pipeline_topcode"))
    module = importlib.import_module("anon_pipeline_topcode")
    try:
        report = check_op(module.TopCode, {"ceiling": 40, "floor": 20}, _ages, row_local=True)
        assert report.passed == ["plan_json", "replay", "seeded", "batches", "error_values"]
        assert report.raised_probes   # a text value is refused with a TransformError, not pandas' message
    finally:
        sys.modules.pop("anon_pipeline_topcode", None)


def _readme_block(first_line: str) -> str:
    """The README's python code block that starts with ``first_line``."""
    text = (ROOT / "README.md").read_text()
    start = text.index("```python\n" + first_line + "\n") + len("```python\n")
    return text[start:text.index("```", start)]


def test_the_readme_op_passes_the_readme_test(tmp_path, monkeypatch):
    """A newcomer copies the op and its test from the README: the test passes, and the op refuses text with a
    TransformError that names no value."""
    package = tmp_path / "my_ops"
    package.mkdir()
    (package / "__init__.py").write_text(_readme_block("# my_ops/__init__.py"))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # the README's top_code stays here
    namespace: dict = {}
    try:
        exec(compile(_readme_block("# tests/test_top_code.py"), "test_top_code.py", "exec"), namespace)
        namespace["test_top_code_keeps_the_op_contract"]()
        report = check_op(namespace["TopCode"], {"ceiling": 40}, _ages, row_local=True)
        assert report.raised_probes and "error_values" in report.passed
    finally:
        sys.modules.pop("my_ops", None)


# ---- check_op catches what it should ------------------------------------------------------------------------
class _Params(OpParams):
    pass


class _Leaky(ColumnOp):
    name = "leaky"
    Params = _Params
    value_wise = True

    def apply(self, values, plan, ctx):
        x = pd.to_numeric(values, errors="coerce")
        if (x > 1000).any():
            raise TransformError(ctx.column, self.name, f"value {x.max()} is too large")
        return x


class _RaisesRaw(_Leaky):
    def apply(self, values, plan, ctx):
        return pd.to_numeric(values)          # pandas' ValueError quotes the value


class _NotJson(_Leaky):
    def fit(self, values, ctx):
        return {"mean": np.float64(values.mean()), "edges": (1, 2)}


class _Unseeded(_Leaky):
    def fit(self, values, ctx):
        return {"offset": float(np.random.default_rng().normal())}

    def apply(self, values, plan, ctx):
        return values + plan["offset"]


class _BatchDependent(_Leaky):
    def apply(self, values, plan, ctx):
        return values - values.mean()         # depends on the other rows of the batch


class _Stateful(_Leaky):
    def fit(self, values, ctx):
        self.shift = float(values.mean())    # kept on the instance, not in the plan: a replay cannot see it
        return {}

    def apply(self, values, plan, ctx):
        return values - getattr(self, "shift", 0.0)


@pytest.mark.parametrize(("op", "check"), [
    (_Leaky, "error_values"), (_RaisesRaw, "error_values"), (_NotJson, "plan_json"), (_Unseeded, "seeded"),
    (_BatchDependent, "batches"), (_Stateful, "replay")])
def test_check_op_catches_a_broken_op(op, check):
    with pytest.raises(OpCheckFailed, match=check):
        check_op(op, {}, _ages.astype(float))


def test_a_failing_input_that_does_not_fail_is_reported():
    with pytest.raises(OpCheckFailed, match="did not fail"):
        check_op("band", {"edges": [0, 100]}, _ages, failing=[(_ages, 50)])
