"""Load a policy YAML file into a validated ``Policy``, with op parameters checked against their ops.

Every error names the policy file, the column (when the problem is in a column) and the field path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from anon_pipeline.errors import PolicyError
from anon_pipeline.metrics.targets import PrivacyTargets
from anon_pipeline.policy.model import Policy, Role, Step
from anon_pipeline.transforms.registry import ColumnOp, OpParams, TableOp, get_op


@dataclass(frozen=True)
class BoundStep:
    """A policy step bound to its op class and validated params."""

    op_name: str
    op: ColumnOp | TableOp


def _field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _bind(policy_file: Path | None, step: Step, *, column: str | None, field: str,
          table: bool) -> BoundStep:
    try:
        op_cls = get_op(step.op)
    except KeyError as exc:
        raise PolicyError(policy_file, str(exc.args[0]), column=column, field=f"{field}.op") from None
    wanted = TableOp if table else ColumnOp
    if not issubclass(op_cls, wanted):
        kind = "a group (groups:)" if table else "a single column (columns:)"
        raise PolicyError(policy_file, f"op '{step.op}' cannot be used on {kind}", column=column,
                          field=f"{field}.op")
    try:
        params: OpParams = op_cls.Params.model_validate(step.params)
    except ValidationError as exc:
        first = exc.errors()[0]
        sub = _field_path(tuple(first["loc"]))
        raise PolicyError(policy_file, f"{first['msg']} ({len(exc.errors())} error(s) in params)",
                          column=column, field=f"{field}.params{'.' + sub if sub else ''}") from None
    return BoundStep(step.op, op_cls(params))


def bind_steps(policy: Policy) -> tuple[dict[str, list[BoundStep]], dict[str, list[BoundStep]]]:
    """Validate every op and its params; returns (column steps, group steps) keyed by column / group name."""
    pf = policy.path
    columns: dict[str, list[BoundStep]] = {}
    for name, spec in policy.columns.items():
        bound = [_bind(pf, s, column=name, field=f"columns.{name}.steps[{i}]", table=False)
                 for i, s in enumerate(spec.steps)]
        if spec.role is Role.identifier:
            for i, b in enumerate(bound):
                if not type(b.op).allowed_on_identifiers:
                    raise PolicyError(pf, f"op '{b.op_name}' may not process a direct identifier; identifiers "
                                      "are dropped unless an identifier op (pseudonym, mask) keeps a safe form",
                                      column=name, field=f"columns.{name}.steps[{i}].op")
        elif spec.role in (Role.drop,) and bound:
            raise PolicyError(pf, "a dropped column cannot have steps", column=name, field=f"columns.{name}.steps")
        columns[name] = bound
    groups: dict[str, list[BoundStep]] = {}
    for gi, group in enumerate(policy.groups):
        for col in group.columns:
            # Sensitive columns may join a group so a search can measure l or t on them.
            if policy.columns[col].role not in (Role.quasi_identifier, Role.sensitive):
                raise PolicyError(pf, f"group '{group.name}' may only hold quasi-identifiers and sensitive columns",
                                  column=col, field=f"groups[{gi}].columns")
        groups[group.name] = [_bind(pf, s, column=None, field=f"groups[{gi}].steps[{i}]", table=True)
                              for i, s in enumerate(group.steps)]
    return columns, groups


def parse_policy(data: Any, policy_file: Path | None = None) -> Policy:
    """Validate already-parsed YAML. Raises ``PolicyError`` naming file, column and field."""
    if not isinstance(data, dict):
        raise PolicyError(policy_file, "the file must hold a mapping (name, seed, columns, ...)")
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        column = str(loc[1]) if len(loc) > 1 and loc[0] == "columns" else None
        raise PolicyError(policy_file, f"{first['msg']} ({len(exc.errors())} error(s) in all)",
                          column=column, field=_field_path(loc) or None) from None
    policy._path = Path(policy_file).resolve() if policy_file is not None else None
    try:
        PrivacyTargets.model_validate(policy.privacy.model_dump())
    except ValidationError as exc:
        first = exc.errors()[0]
        raise PolicyError(policy_file, f"{first['msg']} ({len(exc.errors())} error(s) in privacy)",
                          field="privacy." + _field_path(tuple(first["loc"]))) from None
    bind_steps(policy)
    return policy


def load_policy(path: str | Path) -> Policy:
    """Read and validate a policy YAML file."""
    path = Path(path)
    if not path.is_file():
        raise PolicyError(path, "file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PolicyError(path, f"not valid YAML{where}") from None
    return parse_policy(data, path)
