"""The example privacy-model plugin (p-sensitive k-anonymity), installed into a separate target folder, adds a
``privacy:`` key through the ``anon_pipeline.privacy_models`` entry-point group: a policy's check and
``generalise``'s search both use it, with no change to anon_pipeline. Verdicts are recomputed with pandas."""

import json
import subprocess
import sys
import textwrap

import pytest

from anon_pipeline.policy import load_policy
from anon_pipeline.errors import PolicyError
from anon_pipeline_tests.pipeline.policies import ROOT, variant

PLUGIN = ROOT / "examples" / "anon_pipeline_psensitive"
AGE_EDGES = [list(range(0, 101, 10)), [0, 20, 40, 60, 80, 100], [0, 40, 80, 100]]
CHECK = "p_sensitive_k_anonymity_blood_group"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(PLUGIN)], check=True)
    return target


def _run(site, body: str) -> dict:
    script = f"import json, sys\nsys.path.insert(0, {str(site)!r})\n" + textwrap.dedent(body)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=str(ROOT))
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _policy(tmp_path, p: int, search: bool):
    privacy = {"k": 1, "quasi_identifiers": ["gender", "birthdate"],
               "p_sensitive": {"k": 10, "p": p, "attribute": "blood_group", "blocking": True}}
    changes = {"privacy": privacy}
    if search:
        changes["columns__birthdate__steps"] = [{"op": "age"}]
        changes["columns__blood_group__role"] = "sensitive"  # a group holds quasi-identifiers and sensitive columns
        changes["groups"] = [{"name": "demographics", "columns": ["gender", "birthdate", "blood_group"],
                              "steps": [{"op": "generalise", "quality": "loss", "suppression_limit": 0.05,
                                         "suppress": "remove",
                                         "privacy": {"p_sensitive": {"k": 10, "p": p, "attribute": "blood_group"}},
                                         "hierarchies": {"gender": {"mask": 1},
                                                         "birthdate": {"intervals": AGE_EDGES}}}]}]
    return variant(tmp_path, **changes)


_RUN_POLICY = """
    import anon_pipeline as ap
    result = ap.run_policy({policy!r}, workdir={workdir!r})
    out = result.anonymised
    groups = out.groupby(["gender", "age_band"], dropna=False)["blood_group"]
    check = [c for c in result.check_details if c.name == {check!r}]
    print(json.dumps({{"released": result.released, "check": check[0].passed if check else None,
                      "blocking": check[0].blocking if check else None,
                      "min_size": int(groups.size().min()), "min_distinct": int(groups.nunique(dropna=False).min()),
                      "plan": result.plan["groups"].get("demographics", [{{}}])[0].get("plan", {{}})}}))
"""


@pytest.mark.parametrize("p", [3, 9])
def test_policy_privacy_key_from_the_plugin_is_checked(site, tmp_path, p):
    """Without a search, the bundled policy's age bands by gender: the check's verdict is pandas' (p = 9 exceeds
    the 8 blood groups, so it must fail and, being blocking, stop the release)."""
    seen = _run(site, _RUN_POLICY.format(policy=str(_policy(tmp_path, p, search=False)),
                                         workdir=str(tmp_path / "w"), check=CHECK))
    expected = seen["min_size"] >= 10 and seen["min_distinct"] >= p
    assert seen["check"] is expected and seen["blocking"] is True
    assert seen["released"] is expected
    assert expected is (p == 3)


def test_generalise_searches_the_plugin_model(site, tmp_path):
    seen = _run(site, _RUN_POLICY.format(policy=str(_policy(tmp_path, 6, search=True)),
                                         workdir=str(tmp_path / "w"), check=CHECK))
    assert seen["released"] and seen["check"] is True
    assert seen["min_size"] >= 10 and seen["min_distinct"] >= 6
    assert seen["plan"]["strategy"] == "optimal"
    # every lower neighbour of the chosen node fails the plugin's test or scores no better
    for neighbour in seen["plan"]["lower_neighbours"]:
        assert not neighbour["satisfies"] or neighbour["score"] >= seen["plan"]["score"]
        if not neighbour["satisfies"]:
            assert neighbour["failing"]["p_sensitive_k_anonymity_blood_group"]["rows"] > 0


def test_search_optimum_equals_brute_force_with_the_plugin(site):
    """``optimal`` with the plugin's key, against every node of the lattice judged by pandas."""
    seen = _run(site, """
        import itertools
        import numpy as np, pandas as pd
        from anon_pipeline.search import apply_levels, optimal
        from anon_pipeline.search.optimal import evaluate_levels
        from anon_pipeline.search.problem import encode_problem
        from anon_pipeline.search.criteria import Criteria
        rng = np.random.default_rng(3)
        df = pd.DataFrame({"a": rng.integers(0, 8, 400).astype(str), "b": rng.integers(0, 6, 400).astype(str),
                           "s": rng.choice(list("uvwxyz"), 400, p=[.4, .3, .1, .1, .05, .05])})
        ha = pd.DataFrame({0: [str(i) for i in range(8)], 1: [str(i // 2) for i in range(8)],
                           2: [str(i // 4) for i in range(8)], 3: ["*"] * 8})
        hb = pd.DataFrame({0: [str(i) for i in range(6)], 1: [str(i // 3) for i in range(6)], 2: ["*"] * 6})
        hier = {"a": ha, "b": hb}
        privacy = {"p_sensitive": {"k": 5, "p": 4}}
        best = optimal(df, hier, privacy=privacy, sensitive="s", quality="loss")
        problem = encode_problem(df, hier, Criteria(privacy=privacy), "s", 0.0)
        scores = []
        for levels in itertools.product(range(4), range(3)):
            out = apply_levels(df, hier, dict(zip("ab", levels)))
            g = out.groupby(["a", "b"])["s"]
            if g.size().min() >= 5 and g.nunique().min() >= 4:
                scores.append(evaluate_levels(problem, list(levels), "loss")[0])
        out = apply_levels(df, hier, best.levels)
        g = out.groupby(["a", "b"])["s"]
        print(json.dumps({"score": best.score, "brute": min(scores), "ok": bool(g.size().min() >= 5
                          and g.nunique().min() >= 4)}))
    """)
    assert seen["ok"]
    assert seen["score"] == pytest.approx(seen["brute"])


def test_without_the_plugin_the_key_is_unknown(tmp_path):
    with pytest.raises(PolicyError, match="p_sensitive"):
        load_policy(_policy(tmp_path, 3, search=False))
