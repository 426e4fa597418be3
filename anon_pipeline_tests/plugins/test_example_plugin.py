"""The example plugin, installed into a separate target folder, registers its op through the entry-point group
and is used from a policy in a fresh interpreter."""

import json
import subprocess
import sys
import textwrap

from anon_pipeline_tests.pipeline.policies import ROOT, variant

PLUGIN = ROOT / "examples" / "anon_pipeline_topcode"


def test_plugin_op_is_found_through_its_entry_point(tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(PLUGIN)], check=True)
    policy = variant(tmp_path, privacy__k=1, columns__n_countries_visited={
        "role": "quasi_identifier", "dtype": "int", "steps": [{"op": "top_code", "ceiling": 40}]})
    script = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(target)!r})
        import anon_pipeline as ap
        from anon_pipeline.transforms import registered_ops
        result = ap.run_policy({str(policy)!r}, workdir={str(tmp_path / 'w')!r})
        col = result.anonymised["n_countries_visited"]
        print(json.dumps({{"module": registered_ops()["top_code"].__module__, "max": float(col.max()),
                          "released": result.released}}))
    """)
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True,
                         cwd=str(ROOT))
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["module"] == "anon_pipeline_topcode"
    assert seen["max"] <= 40
    assert seen["released"]


def test_without_the_plugin_the_policy_fails_naming_the_op(tmp_path):
    policy = variant(tmp_path, columns__n_countries_visited={
        "role": "quasi_identifier", "dtype": "int", "steps": [{"op": "top_code", "ceiling": 40}]})
    out = subprocess.run([sys.executable, "-m", "anon_pipeline.cli", "run", str(policy)], capture_output=True,
                         text=True, cwd=str(ROOT))
    assert out.returncode == 2
    assert "unknown op 'top_code'" in out.stderr and "n_countries_visited" in out.stderr
