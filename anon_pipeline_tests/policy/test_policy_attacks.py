"""Attack corpus: small policy files that once released silently weakened data, or hung, or crashed.

Each must now fail at load with a ``PolicyError`` that names the file and the field path (and, for an unknown
key, the closest valid key), quickly: the time bound only guards against a hang, it is not a benchmark.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from anon_pipeline.errors import PolicyError, TransformError
from anon_pipeline.policy import load_policy
from anon_pipeline.policy.reader import MAX_BYTES
from anon_pipeline.transforms.encode import Encode, EncodeParams
from anon_pipeline.transforms.registry import FitContext

ROOT = Path(__file__).resolve().parents[2]
HANG_GUARD_SECONDS = 5.0

# A valid policy; every case replaces one marked line (or appends to a section).
BASE = """\
name: attack
seed: 1
source:
  path: data.csv
  # SOURCE
columns:
  id: {role: identifier}
  age:
    role: quasi_identifier
    dtype: int
    steps:
      - {op: band, edges: [0, 30, 60, 120]}   # AGE_STEP
  city:
    role: quasi_identifier
    # CITY
  gender: {role: quasi_identifier}
  diagnosis: {role: sensitive}
groups: []   # GROUPS
privacy:
  k: 5   # K
  # PRIVACY
"""

GENERALISE = """
groups:
  - name: demo
    columns: [age, gender]
    steps:
      - op: generalise
        k: 5
        hierarchies:
          age: {intervals: [[0, 50, 100]]}
          gender: HIER
"""

BOMB = "\n".join(["  lol: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
                 + [f"  l{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)])


def policy_text(**edits: str) -> str:
    text = BASE
    for marker, replacement in edits.items():
        if marker == "GROUPS":
            text = text.replace("groups: []   # GROUPS\n", textwrap.dedent(replacement).lstrip("\n"))
            continue
        line = next(ln for ln in text.splitlines() if ln.rstrip().endswith(f"# {marker}"))
        indent = line[: len(line) - len(line.lstrip())]
        block = "\n".join(indent + r if r else r for r in textwrap.dedent(replacement).strip("\n").splitlines())
        text = text.replace(line, block)
    return text


def write(tmp_path: Path, text: str, name: str = "attack.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(path: Path) -> PolicyError:
    started = time.perf_counter()
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert time.perf_counter() - started < HANG_GUARD_SECONDS
    assert type(info.value) is PolicyError
    assert str(path) in str(info.value)
    return info.value


# (case id, edits, field path, texts the message must hold)
CASES = [
    # privacy: unknown keys released with no such check
    ("privacy_K", {"PRIVACY": "K: 500"}, "privacy.K", ["unknown key 'K'", "did you mean 'k'"]),
    ("privacy_l_diversity", {"PRIVACY": "l_diversity: {l: 5, blocking: true}"}, "privacy.l_diversity",
     ["unknown key 'l_diversity'", "valid keys:", " l,"]),
    ("privacy_target_key", {"PRIVACY": "l: {l: 2, blockng: true}"}, "privacy.l[0].blockng",
     ["did you mean 'blocking'"]),
    ("privacy_risk_key", {"PRIVACY": "risk: {prosecutor_maks: 0.1}"}, "privacy.risk.prosecutor_maks",
     ["did you mean 'prosecutor_max'"]),
    # duplicate keys: YAML keeps the last
    ("duplicate_k", {"PRIVACY": "k: 1"}, "privacy.k", ["duplicate key 'k' at line 21", "first given at line 20"]),
    ("duplicate_column", {"CITY": "role: sensitive"}, "columns.city.role", ["duplicate key 'role'"]),
    # booleans where numbers are meant
    ("k_true", {"K": "k: true"}, "privacy.k", ["not true/false"]),
    ("seed_true", {"K": "k: 5\nk_blocking: true", "SOURCE": "sample: {seed: yes}"}, "source.sample.seed",
     ["not true/false"]),
    ("l_true", {"PRIVACY": "l: {l: true, blocking: true}"}, "privacy.l[0].l", ["not true/false"]),
    ("edge_bool", {"AGE_STEP": "- {op: band, edges: [0, 30, yes]}"}, "columns.age.steps[0].params.edges[2]",
     ["not true/false"]),
    ("token_length_bool", {"CITY": "steps: [{op: encode, token_length: true}]"},
     "columns.city.steps[0].params.token_length", ["not true/false"]),
    # NaN / inf where numbers are meant
    ("edge_nan", {"AGE_STEP": "- {op: band, edges: [0, 30, .nan]}"}, "columns.age.steps[0].params.edges[2]",
     ["finite"]),
    ("edge_inf", {"AGE_STEP": "- {op: band, edges: [-.inf, 30, 60]}"}, "columns.age.steps[0].params.edges[0]",
     ["finite"]),
    ("t_nan", {"PRIVACY": "t: {t: .nan}"}, "privacy.t[0].t", ["finite"]),
    # unknown keys elsewhere, with the suggestion (not "Field required" for the key meant)
    ("top_level", {"PRIVACY": "", "GROUPS": "privcy: {}\ngroups: []\n"}, "privcy", ["did you mean 'privacy'"]),
    ("column_spec", {"CITY": "nulable: true"}, "columns.city.nulable", ["did you mean 'nullable'"]),
    ("source_key", {"SOURCE": "delimitor: ';'"}, "source.delimitor", ["did you mean 'delimiter'"]),
    ("op_param", {"AGE_STEP": "- {op: band, edgs: [0, 30, 60, 120]}"}, "columns.age.steps[0].params.edgs",
     ["unknown key 'edgs'", "did you mean 'edges'"]),
    ("op_param_nested", {"AGE_STEP": "- {op: band, params: {edges: [0, 30, 120], include_lowst: false}}"},
     "columns.age.steps[0].params.include_lowst", ["did you mean 'include_lowest'"]),
    ("step_without_op", {"AGE_STEP": "- {opp: band, edges: [0, 30, 120]}"}, "columns.age.steps[0]",
     ["a step needs op:", "'opp'"]),
    ("param_inline_and_nested", {"AGE_STEP": "- {op: band, edges: [0, 30, 120], params: {edges: [0, 1]}}"},
     "columns.age.steps[0]", ["['edges'] given both inline and under params"]),
    ("hierarchy_maks", {"GROUPS": GENERALISE.replace("HIER", "{maks: 1}")},
     "groups[0].steps[0].params.hierarchies.gender.maks", ["unknown key 'maks'", "did you mean 'mask'"]),
    ("hierarchy_intervals_text", {"GROUPS": GENERALISE.replace("HIER", '{intervals: "oops"}')},
     "groups[0].steps[0].params.hierarchies.gender.intervals", ["valid list"]),
    ("hierarchy_two_kinds", {"GROUPS": GENERALISE.replace("HIER", "{mask: 1, dates: [year]}")},
     "groups[0].steps[0].params.hierarchies.gender", ["exactly one of"]),
    ("hierarchy_mask_zero", {"GROUPS": GENERALISE.replace("HIER", "{mask: 0}")},
     "groups[0].steps[0].params.hierarchies.gender.mask", ["1 <= n"]),
    ("hierarchy_reference", {"GROUPS": GENERALISE.replace("HIER", "{reference: planet}")},
     "groups[0].steps[0].params.hierarchies.gender.reference", ["unknown reference hierarchy"]),
    # names that become file names or headers
    ("output_traversal", {"CITY": "output: ../../etc/x"}, "columns.city.output", ["must not contain"]),
    ("output_backslash", {"CITY": "output: 'a\\\\b'"}, "columns.city.output", ["must not contain"]),
    ("output_formula", {"CITY": "output: '=HYPERLINK(1)'"}, "columns.city.output", ["formula"]),
    ("output_at", {"CITY": "output: '@SUM(1)'"}, "columns.city.output", ["formula"]),
    ("output_minus", {"CITY": "output: '-2+3'"}, "columns.city.output", ["formula"]),
    ("output_newline", {"CITY": 'output: "a\\nb"'}, "columns.city.output", ["control characters"]),
    ("output_guid", {"CITY": "output: guid"}, "columns.city.output", ["reserved"]),
    ("output_GUID", {"CITY": "output: GUID"}, "columns.city.output", ["reserved"]),
    ("key_table_absolute", {"CITY": "steps: [{op: encode, key_table: /tmp/keys}]"},
     "columns.city.steps[0].params.key_table", ["must not contain"]),
    ("key_table_drive", {"CITY": "steps: [{op: encode, key_table: 'C:keys'}]"},
     "columns.city.steps[0].params.key_table", ["drive"]),
    ("key_table_dotdot", {"CITY": "steps: [{op: encode, key_table: ..}]"},
     "columns.city.steps[0].params.key_table", ["must not contain"]),
    ("key_table_formula", {"CITY": "steps: [{op: encode, key_table: '+x'}]"},
     "columns.city.steps[0].params.key_table", ["formula"]),
    # source settings that crashed later
    ("encoding_unknown", {"SOURCE": "encoding: no-such-codec"}, "source.encoding", ["unknown encoding"]),
    ("encoding_not_text", {"SOURCE": "encoding: rot13"}, "source.encoding", ["not a text encoding"]),
    ("delimiter_two", {"SOURCE": "delimiter: ',,'"}, "source.delimiter", ["exactly one character"]),
    ("delimiter_empty", {"SOURCE": "delimiter: ''"}, "source.delimiter", ["exactly one character"]),
    ("pattern", {"CITY": "pattern: '(['"}, "columns.city.pattern", ["not a valid regular expression"]),
    # impossible op parameters
    ("token_length_zero", {"CITY": "steps: [{op: encode, token_length: 0}]"},
     "columns.city.steps[0].params.token_length", ["greater than or equal to 1"]),
    ("token_length_negative", {"CITY": "steps: [{op: encode, token_length: -3}]"},
     "columns.city.steps[0].params.token_length", ["greater than or equal to 1"]),
    ("sample_rows", {"SOURCE": "sample: {rows: 2000000000}"}, "source.sample.rows", ["less than or equal to"]),
]


@pytest.mark.parametrize("edits, field, texts", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_attack_refused_at_load(tmp_path, edits, field, texts):
    err = refused(write(tmp_path, policy_text(**edits)))
    assert err.field == field, str(err)
    message = str(err)
    assert f"field '{field}'" in message
    for text in texts:
        assert text in message, message
    if field.startswith("columns."):
        assert err.column == field.split(".")[1]


def test_base_policy_and_the_legitimate_keys_load(tmp_path):
    text = policy_text(PRIVACY="k_eps_level: 10\nl: {l: 2, blocking: true}",
                       CITY="steps: [{op: encode, key_table: city_codes, token_length: 4}]\noutput: city_code",
                       SOURCE="encoding: latin-1\ndelimiter: ';'",
                       GROUPS=GENERALISE.replace("HIER", "{mask: 1}"))
    policy = load_policy(write(tmp_path, text))
    assert policy.privacy.k == 5 and policy.privacy.k_eps_level == 10
    assert policy.privacy.l[0].blocking is True
    assert policy.output_name("city") == "city_code"
    assert policy.source.delimiter == ";"


def test_anchors_and_merge_keys_stay_usable(tmp_path):
    text = policy_text(AGE_STEP="- &band {op: band, edges: [0, 30, 60, 120]}",
                       CITY="steps: [{<<: *band, op: band}]\ndtype: int")
    policy = load_policy(write(tmp_path, text))
    assert policy.columns["city"].steps[0].params["edges"] == [0, 30, 60, 120]


def test_alias_bomb_is_refused_quickly(tmp_path):
    path = write(tmp_path, BASE.replace("  # PRIVACY", BOMB))
    assert path.stat().st_size < 1000
    err = refused(path)
    assert "alias bomb" in str(err) and err.field == "privacy.l5"   # about 9 ** 6 nodes: the first over the bound


def test_alias_that_contains_itself(tmp_path):
    err = refused(write(tmp_path, BASE.replace("  # PRIVACY", "  loop: &x [*x]")))
    assert "contains it" in str(err) and err.field == "privacy.loop[0]"


def test_oversized_file_is_not_read(tmp_path):
    path = write(tmp_path, BASE + "# " + "x" * MAX_BYTES + "\n")
    assert "larger than" in str(refused(path))


def test_not_utf8(tmp_path):
    path = tmp_path / "latin.yaml"
    path.write_bytes(BASE.replace("attack", "caf\xe9").encode("latin-1"))
    assert "not UTF-8" in str(refused(path))


def test_deep_nesting(tmp_path):
    path = write(tmp_path, BASE + "x: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nested too deeply" in str(refused(path))


def test_kept_column_named_unsafely_needs_an_output_name(tmp_path):
    text = BASE.replace("  city:\n", "  '=city':\n")
    err = refused(write(tmp_path, text))
    assert err.field == "columns.=city.output" and "set output:" in str(err)
    # an output name fixes the header, but encode's key table would still be named after the column
    text = BASE.replace("  city:\n", "  '=city':\n").replace("# CITY", "output: city\n    steps: [{op: encode}]")
    err = refused(write(tmp_path, text))
    assert err.field == "columns.=city.steps[0].params.key_table" and "set key_table:" in str(err)


def test_bundled_policies_still_load():
    paths = sorted((ROOT / "policies").glob("*.yaml"))
    assert paths
    for path in paths:
        assert load_policy(path).name


def test_encode_fit_fails_fast_when_the_code_space_is_too_small():
    op = Encode(EncodeParams(token_length=1))
    values = pd.Series([f"v{i}" for i in range(9)] * 3)
    ctx = FitContext(column="city", seed=1)
    started = time.perf_counter()
    with pytest.raises(TransformError, match="token_length 1 gives 16 codes, fewer than twice the 9"):
        op.fit(values, ctx)
    assert time.perf_counter() - started < HANG_GUARD_SECONDS
    plan = Encode(EncodeParams(token_length=1)).fit(values.iloc[:8], ctx)  # 16 codes for 8 values: fine
    assert len(set(plan["codes"].values())) == 8


@pytest.mark.parametrize("edits", [{"PRIVACY": BOMB}, {"PRIVACY": "k: 1"}, {"PRIVACY": "K: 500"},
                                   {"AGE_STEP": "- {op: band, edges: [0, 30, .nan]}"}],
                         ids=["alias_bomb", "duplicate_k", "unknown_key", "nan_edge"])
def test_cli_exits_2_without_traceback(tmp_path, edits):
    path = write(tmp_path, policy_text(**edits))
    env = {**os.environ, "ANON_PIPELINE_WORKDIR": str(tmp_path / "out")}
    proc = subprocess.run([sys.executable, "-m", "anon_pipeline.cli", "run", str(path)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert str(path) in proc.stderr and "error: policy" in proc.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("release"))


@pytest.mark.parametrize("secret, text", [
    ("drinks", "'drinks' is not a column of the policy; columns that would do: avg_n_drinks_per_week"),
    ("surname", "'surname' is a column of role identifier"),
    ("gender", "'gender' is a column of role quasi_identifier"),
])
def test_a_secret_of_the_inference_attack_is_a_released_column_at_load(tmp_path, secret, text):
    """A secret named wrongly used to fail after the whole run as an internal error (an output name) or be
    reported as "not measured" (an identifier): now the policy does not load, and says which field."""
    from anon_pipeline_tests.pipeline.policies import variant

    path = variant(tmp_path, evaluation={"secrets": [secret]})
    with pytest.raises(PolicyError, match=re.escape(text)) as info:
        load_policy(path)
    assert info.value.field == "evaluation.secrets[0]"


def test_a_secret_may_be_named_by_its_output_name(tmp_path):
    from anon_pipeline.pipeline.evaluation import secrets
    from anon_pipeline_tests.pipeline.policies import variant

    named = {"columns__avg_n_drinks_per_week__output": "drinks"}
    for given in ("drinks", "avg_n_drinks_per_week"):
        policy = load_policy(variant(tmp_path, evaluation={"secrets": [given]}, **named))
        assert secrets(policy) == ["drinks"]


def test_an_attack_check_carries_the_caveats_of_its_figure(tmp_path):
    """A singling-out risk of 0 from no predicate at all, and fewer attacks than asked, are said on the check's
    own line, not only deep in the report."""
    from anon_pipeline.pipeline.evaluation import check_attack_targets
    from anon_pipeline_tests.pipeline.policies import variant

    policy = load_policy(variant(tmp_path, evaluation={"n_attacks": 500, "targets": {
        "singling_out_multivariate": 0.2, "linkability": 0.05}}))
    report = {"settings": {"n_attacks_requested": 500, "n_attacks": 200, "rows": {"control": 200}},
              "attacks": {"singling_out_multivariate": {"risk": 0.0, "ci": [0.0, 0.013]},
                          "linkability": {"risk": 0.01, "ci": [0.0, 0.03]}},
              "warnings": ["singling_out_multivariate: only 0 of 200 singling-out predicates found; the risk is "
                           "underestimated"]}
    outcomes = {o.name: o for o in check_attack_targets(report, policy)}
    single, link = outcomes["singling_out_multivariate_risk"], outcomes["linkability_risk"]
    assert single.passed and "caveat: only 0 of 200 singling-out predicates found" in single.description
    assert "caveat: 200 attacks of the 500 asked" in single.description
    assert "predicates" not in link.description and "caveat: 200 attacks of the 500 asked" in link.description
    report["settings"]["n_attacks"] = 500
    report["warnings"] = []
    assert "caveat" not in check_attack_targets(report, policy)[0].description
