"""The JSON Schema of a policy file, for editors (``anon-pipeline schema``; ``# yaml-language-server: $schema=``).

Derived from the pydantic models that validate a policy (``policy.model``) and from every registered op's
``Params`` (plugins included), so it follows them as they change; a shorthand a before-validator reads is declared
beside it (``json_schema_input_type``). A step is one of the ops of its kind (column ops under ``columns:``,
table ops under ``groups:``), with its parameters inline or under ``params:``. The loader stays the authority:
what JSON Schema cannot say (the cross-field rules, a parameter being required while it may be written in
either place) is checked there.
"""

from __future__ import annotations

from typing import Any

from anon_pipeline.policy.model import Policy
from anon_pipeline.transforms.registry import ColumnOp, TableOp, registered_ops

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _step(name: str, op: type[ColumnOp] | type[TableOp], defs: dict[str, Any]) -> dict[str, Any]:
    """One op's step: ``op: <name>`` with its parameters inline or under ``params:`` (so none is required)."""
    params = op.Params.model_json_schema(ref_template=f"#/$defs/{name}.{{model}}")
    defs.update({f"{name}.{model}": sub for model, sub in params.pop("$defs", {}).items()})
    params.pop("required", None)
    params.pop("title", None)
    doc = (op.__doc__ or "").strip().split("\n\n")[0]
    return {"type": "object", "title": name, **({"description": " ".join(doc.split())} if doc else {}),
            "properties": {"op": {"const": name}, "params": params, **params.get("properties", {})},
            "required": ["op"], "additionalProperties": False}


def _one_target_or_a_list(privacy: dict[str, Any]) -> None:
    """Each list of targets in ``privacy:`` also takes one target (``t: {t: 0.2}``), as the README documents; the
    model reads one as a list of one in a before-validator, which pydantic's schema cannot see."""
    for name, prop in privacy["properties"].items():
        if prop.get("type") == "array" and "$ref" in prop.get("items", {}):
            privacy["properties"][name] = {"anyOf": [{"type": "array", "items": prop["items"]}, prop["items"]],
                                           **{k: v for k, v in prop.items() if k not in ("type", "items")}}


def policy_json_schema() -> dict[str, Any]:
    """The policy file's JSON Schema (draft 2020-12)."""
    schema = Policy.model_json_schema()
    defs = schema["$defs"]
    steps: dict[str, list[dict[str, Any]]] = {"ColumnStep": [], "GroupStep": []}
    for name, op in sorted(registered_ops().items()):
        steps["GroupStep" if issubclass(op, TableOp) else "ColumnStep"].append(_step(name, op, defs))
    for kind, variants in steps.items():
        defs[kind] = {"description": defs["Step"]["description"], "anyOf": variants}
    defs["ColumnSpec"]["properties"]["steps"]["items"] = {"$ref": "#/$defs/ColumnStep"}
    defs["GroupSpec"]["properties"]["steps"]["items"] = {"$ref": "#/$defs/GroupStep"}
    del defs["Step"]
    _one_target_or_a_list(defs[schema["properties"]["privacy"]["$ref"].rsplit("/", 1)[1]])
    return {"$schema": DRAFT, **schema, "title": "anon_pipeline policy"}
