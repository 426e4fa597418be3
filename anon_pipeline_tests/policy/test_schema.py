"""``anon-pipeline schema``: the policy's JSON Schema accepts every bundled policy, names the top-level keys and
every registered op, and refuses the slips the loader refuses (a misspelt key or op parameter, an unknown op, a
table op on a column, a misspelt hierarchy kind).

Validated with ``jsonschema`` when it is installed (the ``dg`` extra brings it), else with the small validator
below, which knows the keywords the schema uses."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from anon_pipeline.cli import main
from anon_pipeline.policy.model import Policy, PrivacySpec
from anon_pipeline.transforms.registry import TableOp, registered_ops
from anon_pipeline_tests.pipeline.policies import ROOT

POLICIES = sorted((ROOT / "policies").glob("*.yaml"))
K5 = ROOT / "policies" / "insurance_customers_k5.yaml"


def _as_an_editor_reads(path: Path) -> dict:
    """The policy as JSON: dates stay text, as a YAML 1.2 editor reads them."""
    return json.loads(json.dumps(yaml.safe_load(path.read_text()), default=str))


def _errors(schema: dict, doc) -> list[str]:
    try:
        import jsonschema
    except ImportError:
        return _walk(schema, schema, doc, "")
    return [f"{list(e.absolute_path)}: {e.message}" for e in jsonschema.Draft202012Validator(schema).iter_errors(doc)]


_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None),
          "integer": int, "number": (int, float)}


def _walk(root: dict, node: dict, doc, at: str) -> list[str]:
    """A JSON Schema subset: $ref, anyOf, type, const, enum, properties, additionalProperties, items, required,
    minimum/maximum."""
    if "$ref" in node:
        node = root["$defs"][node["$ref"].rsplit("/", 1)[1]]
    if "anyOf" in node:
        tries = [_walk(root, sub, doc, at) for sub in node["anyOf"]]
        return [] if any(not t for t in tries) else [f"{at}: no alternative fits"] + min(tries, key=len)
    kind = node.get("type")
    if kind and (not isinstance(doc, _TYPES[kind]) or (kind in ("integer", "number") and isinstance(doc, bool))):
        return [f"{at}: not {kind}"]
    if "const" in node and doc != node["const"] or "enum" in node and doc not in node["enum"]:
        return [f"{at}: {doc!r} not allowed"]
    if isinstance(doc, (int, float)) and not node.get("minimum", doc) <= doc <= node.get("maximum", doc):
        return [f"{at}: out of range"]
    errors = []
    if isinstance(doc, dict):
        errors += [f"{at}.{key}: required" for key in node.get("required", []) if key not in doc]
        for key, value in doc.items():
            sub = node.get("properties", {}).get(key, node.get("additionalProperties", True))
            errors += [f"{at}.{key}: unknown key"] if sub is False else \
                _walk(root, sub, value, f"{at}.{key}") if isinstance(sub, dict) else []
    if isinstance(doc, list) and "items" in node:
        for i, item in enumerate(doc):
            errors += _walk(root, node["items"], item, f"{at}[{i}]")
    return errors


@pytest.fixture(scope="module")
def schema() -> dict:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["schema"]) == 0
    return json.loads(out.getvalue())


def test_the_schema_names_the_top_level_keys_and_every_op(schema):
    assert schema["$schema"].endswith("2020-12/schema") and schema["title"] == "anon_pipeline policy"
    assert list(schema["properties"]) == list(Policy.model_fields)
    assert {"name", "seed", "columns"} <= set(schema["required"])
    defs = schema["$defs"]
    ops = {kind: {v["properties"]["op"]["const"] for v in defs[kind]["anyOf"]} for kind in ("ColumnStep", "GroupStep")}
    registered = registered_ops()
    assert ops["GroupStep"] == {n for n, op in registered.items() if issubclass(op, TableOp)}
    assert ops["ColumnStep"] == set(registered) - ops["GroupStep"]
    assert all(re.fullmatch(r"#/\$defs/[\w.]+", ref) and ref.rsplit("/", 1)[1] in defs
               for ref in re.findall(r'"\$ref": "([^"]+)"', json.dumps(schema)))


@pytest.mark.parametrize("policy", POLICIES, ids=[p.stem for p in POLICIES])
def test_every_bundled_policy_is_valid(schema, policy):
    doc = _as_an_editor_reads(policy)
    assert _errors(schema, doc) == [] and _walk(schema, schema, doc, "") == []


def _readme_yaml(heading: str) -> dict:
    readme = (ROOT / "README.md").read_text()
    block = re.search(re.escape(heading) + r"\s+```yaml\n(.*?)```", readme, re.S).group(1)
    return json.loads(json.dumps(yaml.safe_load(block), default=str))


def test_the_readme_policy_example_is_valid(schema):
    assert _errors(schema, _readme_yaml("## Writing a policy")) == []


def test_the_readme_privacy_example_is_valid(schema):
    """It writes one target (``t: {...}``) where a list may stand, which the loader accepts."""
    doc = _as_an_editor_reads(K5)
    doc["privacy"] = _readme_yaml("### The `privacy:` section")["privacy"]
    assert isinstance(doc["privacy"]["t"], dict)
    assert _errors(schema, doc) == []
    PrivacySpec.model_validate(doc["privacy"])  # and the loader's model reads it


def _hierarchies(doc: dict) -> dict:
    return doc["groups"][0]["steps"][0]["hierarchies"]


SLIPS = {
    "a misspelt top-level key": lambda d: d.update(sed=d.pop("seed")),
    "a misspelt column key": lambda d: d["columns"]["gender"].update(rol="quasi_identifier"),
    "an unknown op": lambda d: d["columns"]["avg_n_drinks_per_week"]["steps"][0].update(op="bandd"),
    "a misspelt inline op parameter": lambda d: d["columns"]["avg_n_drinks_per_week"]["steps"][0].update(edgez=[1]),
    "a misspelt parameter under params": lambda d: d["columns"]["avg_n_drinks_per_week"]["steps"][0].update(
        params={"edgez": [1]}),
    "a table op on a column": lambda d: d["columns"]["gender"].update(steps=[{"op": "generalise"}]),
    "a misspelt hierarchy kind": lambda d: _hierarchies(d).update(gender={"maks": 1}),
    "a mask level out of range": lambda d: _hierarchies(d).update(gender={"mask": [0]}),
    "a number for a name": lambda d: d.update(name=5),
}


@pytest.mark.parametrize("slip", SLIPS)
def test_a_slip_is_refused(schema, slip):
    doc = _as_an_editor_reads(K5)
    assert doc["columns"]["avg_n_drinks_per_week"]["steps"][0]["op"] == "band"
    broken = copy.deepcopy(doc)
    SLIPS[slip](broken)
    assert _errors(schema, broken), slip


def test_the_fallback_validator_agrees_on_a_slip_and_a_valid_policy(schema):
    doc = _as_an_editor_reads(K5)
    assert _walk(schema, schema, doc, "") == []
    SLIPS["a misspelt hierarchy kind"](doc)
    assert _walk(schema, schema, doc, "")
