"""The example plugin examples/anon_pipeline_bands adds a hierarchy kind (``{kind: bands, widths: [...]}``) and a
quality model (``quality: max_level``) to ``generalise``: registered in-process, and installed into a separate
target folder through the ``anon_pipeline.hierarchy_kinds`` and ``anon_pipeline.quality_models`` entry-point groups.
Results are recomputed with pandas; unknown names fail when the policy loads, naming the closest valid one."""

import itertools
import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

import anon_pipeline as ap
from anon_pipeline.errors import PolicyError
from anon_pipeline.hierarchies import build_hierarchy
from anon_pipeline.hierarchies import registry as kinds
from anon_pipeline.policy import load_policy
from anon_pipeline.search import apply_levels, optimal
from anon_pipeline.search import quality
from anon_pipeline_tests.pipeline.policies import ROOT, variant

PLUGIN = ROOT / "examples" / "anon_pipeline_bands"
WIDTHS = [5, 10, 20, 60]


@pytest.fixture
def bands(monkeypatch):
    """The plugin imported in this process; its registrations are withdrawn afterwards."""
    # The registries load their entry points first: with the plugin's folder on the path, a build's metadata left
    # there (``*.egg-info``) would register it for good.
    monkeypatch.setattr(kinds, "_REGISTRY", kinds.registered_hierarchy_kinds())
    monkeypatch.setattr(quality, "_REGISTRY", quality.registered_quality_models())
    monkeypatch.syspath_prepend(str(PLUGIN))
    monkeypatch.delitem(sys.modules, "anon_pipeline_bands", raising=False)
    import anon_pipeline_bands

    yield anon_pipeline_bands
    sys.modules.pop("anon_pipeline_bands", None)


def _policy(tmp_path, birthdate=None, quality_name="max_level"):
    step = {"op": "generalise", "k": 10, "suppression_limit": 0.02, "quality": quality_name, "suppress": "remove",
            "hierarchies": {"gender": {"mask": 1}, "birthdate": birthdate or {"kind": "bands", "widths": WIDTHS}}}
    return variant(tmp_path, columns__birthdate__steps=[{"op": "age"}],
                   groups=[{"name": "demographics", "columns": ["gender", "birthdate"], "steps": [step]}])


def _assert_bands(labels: pd.Series, level: int) -> None:
    """Every released label is the band ``[a, a + w)`` of the chosen level's width, ``a`` a multiple of ``w``."""
    kept = labels[labels != "*"]
    assert len(kept)
    if level == 0:
        assert pd.to_numeric(kept).notna().all()
        return
    width = WIDTHS[level - 1]
    bounds = kept.str.extract(r"^\[(\d+), (\d+)\)$").astype(float)
    assert bounds.notna().all().all()
    assert ((bounds[1] - bounds[0]) == width).all() and (bounds[0] % width == 0).all()


def test_policy_generalise_uses_the_plugin_kind_and_quality(bands, tmp_path):
    result = ap.run_policy(_policy(tmp_path), workdir=tmp_path / "work")
    assert result.released, result.checks
    plan = result.plan["groups"]["demographics"][0]["plan"]
    assert plan["quality"] == "max_level"
    assert plan["score"] == max(plan["levels"].values())
    for neighbour in plan["lower_neighbours"]:
        assert neighbour["satisfies"] is False or neighbour["score"] >= plan["score"]
    _assert_bands(result.anonymised["age_band"].astype(str), plan["levels"]["birthdate"])
    sizes = result.anonymised.groupby(["gender", "age_band"]).size()
    assert sizes.min() >= 10


def test_optimal_with_the_plugin_equals_brute_force(bands):
    rng = np.random.default_rng(7)
    df = pd.DataFrame({"a": rng.integers(0, 100, 500), "b": rng.choice(["x1", "x2", "y1", "y2"], 500)})
    hier = {"a": build_hierarchy({"kind": "bands", "widths": WIDTHS}, df["a"]),
            "b": build_hierarchy({"mask": 1}, df["b"])}
    assert list(hier["a"].loc[hier["a"][0] == str(df["a"].iloc[0])].iloc[0, 1:3]) == [
        f"[{df['a'].iloc[0] // 5 * 5}, {df['a'].iloc[0] // 5 * 5 + 5})",
        f"[{df['a'].iloc[0] // 10 * 10}, {df['a'].iloc[0] // 10 * 10 + 10})"]
    best = optimal(df, hier, k=8, quality="max_level")
    feasible = []
    for levels in itertools.product(range(hier["a"].shape[1]), range(hier["b"].shape[1])):
        out = apply_levels(df, hier, dict(zip("ab", levels)))
        if out.groupby(["a", "b"]).size().min() >= 8:
            feasible.append(max(levels))
    assert best.score == min(feasible)
    assert apply_levels(df, hier, best.levels).groupby(["a", "b"]).size().min() >= 8


@pytest.mark.parametrize("changes, expected", [
    ({"quality_name": "max_levle"}, "did you mean 'max_level'"),
    ({"birthdate": {"kind": "bnads", "widths": [10]}}, "did you mean 'bands'"),
    ({"birthdate": {"kind": "bands", "widht": [10]}}, "did you mean 'widths'"),
    ({"birthdate": {"kind": "bands", "widths": [10, 15]}}, "whole multiple"),
    ({"birthdate": {"kind": "mask", "x": 1}}, "written 'mask: ...'"),
    ({"birthdate": {"maks": 1}}, "did you mean 'mask'"),
])
def test_unknown_names_fail_at_load(bands, tmp_path, changes, expected):
    with pytest.raises(PolicyError, match=expected) as info:
        load_policy(_policy(tmp_path, **changes))
    assert "generalise" in str(info.value) or "groups" in str(info.value)


def test_without_the_plugin_its_names_are_unknown(tmp_path):
    with pytest.raises(PolicyError, match="unknown quality model 'max_level'"):
        load_policy(_policy(tmp_path, birthdate={"intervals": [[0, 50, 100]]}))
    with pytest.raises(PolicyError, match="unknown quality model 'los' \\(did you mean 'loss'\\?\\)"):
        load_policy(_policy(tmp_path, birthdate={"intervals": [[0, 50, 100]]}, quality_name="los"))
    with pytest.raises(PolicyError, match="unknown hierarchy kind 'bands'"):
        load_policy(_policy(tmp_path, quality_name="loss"))


def test_a_name_is_registered_once(bands):
    with pytest.raises(ValueError, match="already registered"):
        quality.register_quality_model("loss")(bands.MaxLevel)
    with pytest.raises(ValueError, match="already registered"):
        kinds.register_hierarchy_kind("intervals")(bands.bands)
    with pytest.raises(TypeError, match="must subclass Quality"):
        quality.register_quality_model("nothing")(object)


def test_installed_plugin_registers_through_its_entry_points(tmp_path):
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(site), str(PLUGIN)], check=True)
    script = f"import json, sys\nsys.path.insert(0, {str(site)!r})\n" + textwrap.dedent(f"""
        import anon_pipeline as ap
        result = ap.run_policy({str(_policy(tmp_path))!r}, workdir={str(tmp_path / "work")!r})
        plan = result.plan["groups"]["demographics"][0]["plan"]
        print(json.dumps({{"released": result.released, "quality": plan["quality"], "score": plan["score"],
                          "levels": plan["levels"], "labels": result.anonymised["age_band"].astype(str).tolist(),
                          "loaded": "anon_pipeline_bands" in sys.modules}}))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=str(ROOT))
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["loaded"] and seen["released"] and seen["quality"] == "max_level"
    assert seen["score"] == max(seen["levels"].values())
    _assert_bands(pd.Series(seen["labels"]), seen["levels"]["birthdate"])
