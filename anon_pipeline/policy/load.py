"""Load a policy YAML file into a validated ``Policy``, with op parameters checked against their ops.

Every error names the policy file, the column (when the problem is in a column) and the field path; an unknown
key is named with the closest valid one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from anon_pipeline.criteria import registered_privacy_models
from anon_pipeline.criteria.base import PerAttributeSpec
from anon_pipeline.policy.dp_spec import check_aggregates
from anon_pipeline.errors import PolicyError
from anon_pipeline.policy.model import Policy, Role, Step
from anon_pipeline.policy.reader import YamlRefused, read_policy_yaml
from anon_pipeline.strict_model import UNKNOWN_KEY, closest, safe_name
from anon_pipeline.transforms.registry import ColumnOp, OpParams, TableOp, get_op

#: The qi table's and the release's row id column (a random GUID per row): no policy column may take its name.
GUID = "guid"


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


def _policy_error(policy_file: Path | None, exc: ValidationError, *, prefix: str = "",
                  column: str | None = None) -> PolicyError:
    """The first error of ``exc`` (an unknown key first: it usually explains the others) as a ``PolicyError``."""
    errors = exc.errors()
    first = next((e for e in errors if e["type"] == UNKNOWN_KEY), errors[0])
    loc = tuple(first["loc"])
    if first["type"] == UNKNOWN_KEY:
        loc += (first["ctx"]["key"],)
    # A validator's own ValueError, without pydantic's "Value error, " in front of it.
    message = str(first["ctx"]["error"]) if first["type"] == "value_error" else first["msg"]
    more = f" ({len(errors)} error(s) in all)" if len(errors) > 1 else ""
    return _error_at(policy_file, f"{message}{more}", loc, prefix=prefix, column=column)


def _error_at(policy_file: Path | None, message: str, loc: tuple[Any, ...], *, prefix: str = "",
              column: str | None = None) -> PolicyError:
    if column is None and len(loc) > 1 and loc[0] == "columns":
        column = str(loc[1])
    field = ".".join(p for p in (prefix, _field_path(loc)) if p)
    return PolicyError(policy_file, message, column=column, field=field or None)


def _declared(policy: Policy, name: str, field: str, *, roles: tuple[Role, ...], what: str) -> None:
    """``name`` is a column of the policy (its input name, or its ``output:`` name) of one of ``roles`` (``what``
    they are, in words); else a ``PolicyError`` at ``field`` naming the closest column, or those that would do."""
    outputs = {policy.output_name(c): c for c in policy.columns}
    found = name if name in policy.columns else outputs.get(name)
    if found is not None and policy.columns[found].role in roles:
        return
    fitting = [c for c, spec in policy.columns.items() if spec.role in roles]
    listed = f"; columns that would do: {', '.join(fitting)}" if fitting else ""
    if found is None:
        near = closest(name, [*policy.columns, *outputs])
        message = f"'{name}' is not a column of the policy" + (f" (did you mean '{near}'?)" if near else listed)
    else:
        message = f"'{name}' is a column of role {policy.columns[found].role.value}, not {what}{listed}"
    raise PolicyError(policy.path, message, field=field)


def check_references(policy: Policy) -> None:
    """Every column named outside ``columns:`` is declared there, with a role that fits where it is named: a
    group's columns, ``privacy.quasi_identifiers``, the attribute of a per-attribute target (l, t, a plugin's) and
    the secrets of the inference attack, which must be released and not quasi-identifiers, since they are measured
    within, or learnt from, what the quasi-identifiers give away."""
    for gi, group in enumerate(policy.groups):
        for ci, col in enumerate(group.columns):
            # Sensitive columns may join a group so a search can measure l or t on them.
            _declared(policy, col, f"groups[{gi}].columns[{ci}]", roles=(Role.quasi_identifier, Role.sensitive),
                      what="a quasi-identifier or sensitive column (what a group may hold)")
    for i, col in enumerate(policy.privacy.quasi_identifiers or ()):
        _declared(policy, col, f"privacy.quasi_identifiers[{i}]", roles=(Role.quasi_identifier,),
                  what="a quasi_identifier")
    sensitive = policy.columns_with(Role.sensitive)
    for model in registered_privacy_models().values():
        for i, spec in enumerate(model.specs(policy.privacy)):
            if not isinstance(spec, PerAttributeSpec):
                continue
            field = f"privacy.{model.key}" + (f"[{i}]" if model.many else "")
            if spec.attribute is None:
                if not sensitive:
                    raise PolicyError(policy.path, "the target names no attribute and the policy has no column of "
                                      "role sensitive: give attribute: <column>, or give the column role: "
                                      "sensitive", field=field)
                continue
            _declared(policy, spec.attribute, f"{field}.attribute", roles=(Role.sensitive, Role.insensitive),
                      what="a released column other than a quasi-identifier (role sensitive or insensitive)")
    for i, secret in enumerate(policy.evaluation.secrets or () if policy.evaluation is not None else ()):
        # The inference attack learns a released column from the quasi-identifiers (and the other secrets).
        _declared(policy, secret, f"evaluation.secrets[{i}]", roles=(Role.sensitive, Role.insensitive),
                  what="a released column other than a quasi-identifier (role sensitive or insensitive)")


def _bind(policy: Policy, step: Step, *, column: str | None, field: str, columns: list[str],
          table: bool) -> BoundStep:
    """The step's op with its params validated and checked against where it stands (``Op.check_at_load``)."""
    policy_file = policy.path
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
        raise _policy_error(policy_file, exc, prefix=f"{field}.params", column=column) from None
    op = op_cls(params)
    try:
        op.check_at_load(list(columns), policy.base_dir)
    except ValueError as exc:
        raise PolicyError(policy_file, str(exc), column=column, field=f"{field}.params") from None
    return BoundStep(step.op, op)


def _check_names(policy: Policy, columns: dict[str, list[BoundStep]]) -> None:
    """Names that become file names or column headers: ``output:`` is checked by the model; here the defaults
    (a column's own name) and the reserved row-id column."""
    pf = policy.path
    for name in policy.kept_columns:
        out = policy.output_name(name)
        if out.lower() == GUID:
            raise PolicyError(pf, f"'{out}' is reserved for the release's row id column", column=name,
                              field=f"columns.{name}.output")
        if policy.columns[name].output is None:
            _default_name_safe(pf, name, "output", f"columns.{name}.output")
    for name, bound in columns.items():
        for i, b in enumerate(bound):
            if b.op_name == "encode" and getattr(b.op.params, "key_table", None) is None:
                _default_name_safe(pf, name, "key table", f"columns.{name}.steps[{i}].params.key_table")


def _default_name_safe(pf: Path | None, column: str, what: str, field: str) -> None:
    try:
        safe_name(column)
    except ValueError as exc:
        key = field.rsplit(".", 1)[1]
        raise PolicyError(pf, f"the {what} is named after the column by default, and the name {exc}; set {key}: "
                          "to a safe name", column=column, field=field) from None


def bind_steps(policy: Policy) -> tuple[dict[str, list[BoundStep]], dict[str, list[BoundStep]]]:
    """Validate every op and its params; returns (column steps, group steps) keyed by column / group name."""
    pf = policy.path
    columns: dict[str, list[BoundStep]] = {}
    for name, spec in policy.columns.items():
        bound = [_bind(policy, s, column=name, field=f"columns.{name}.steps[{i}]", columns=[name], table=False)
                 for i, s in enumerate(spec.steps)]
        if spec.role is Role.identifier:
            for i, b in enumerate(bound):
                if not (isinstance(b.op, ColumnOp) and b.op.allowed_on_identifiers):
                    raise PolicyError(pf, f"op '{b.op_name}' may not process a direct identifier; identifiers "
                                      "are dropped unless an identifier op (pseudonym, mask) keeps a safe form",
                                      column=name, field=f"columns.{name}.steps[{i}].op")
        elif spec.role in (Role.drop,) and bound:
            raise PolicyError(pf, "a dropped column cannot have steps", column=name, field=f"columns.{name}.steps")
        columns[name] = bound
    groups: dict[str, list[BoundStep]] = {}
    for gi, group in enumerate(policy.groups):
        groups[group.name] = [_bind(policy, s, column=None, field=f"groups[{gi}].steps[{i}]", columns=group.columns,
                                    table=True)
                              for i, s in enumerate(group.steps)]
    _every_column_drawn_anew(policy, groups)
    return columns, groups


def _every_column_drawn_anew(policy: Policy, groups: dict[str, list[BoundStep]]) -> None:
    """A group whose op draws rows of its own (``Op.draws_new_rows``) leaves no real row to attach a column to: the
    other kept columns must come out of such groups too (found here, before a run spends any privacy budget)."""
    drawing = [g for g in policy.groups if any(b.op.draws_new_rows() for b in groups[g.name])]
    if not drawing:
        return
    covered = {c for g in drawing for c in g.columns}
    left = [c for c in policy.kept_columns if c not in covered]
    if left:
        steps = ", ".join(f"'{g.name}' ({', '.join(b.op_name for b in groups[g.name] if b.op.draws_new_rows())})"
                          for g in drawing)
        raise PolicyError(policy.path, f"group {steps} draws rows of its own, so every kept column must be "
                          f"synthesised in such a group; not in one: {left} (add them to the group, or give them "
                          "role: drop)", field="groups")


def parse_policy(data: Any, policy_file: Path | None = None) -> Policy:
    """Validate already-parsed YAML. Raises ``PolicyError`` naming file, column and field."""
    # Every error names the file by its absolute path, however it was given.
    policy_file = Path(policy_file).resolve() if policy_file is not None else None
    if not isinstance(data, dict):
        raise PolicyError(policy_file, "the file must hold a mapping (name, seed, columns, ...)")
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        raise _policy_error(policy_file, exc) from None
    policy._path = policy_file
    check_references(policy)
    columns, _ = bind_steps(policy)
    _check_names(policy, columns)
    check_aggregates(policy, policy_file)
    return policy


def load_policy(path: str | Path) -> Policy:
    """Read and validate a policy YAML file."""
    path = Path(path).resolve()
    if not path.is_file():
        raise PolicyError(path, "file not found")
    try:
        data = read_policy_yaml(path)
    except YamlRefused as exc:
        raise _error_at(path, str(exc), exc.loc) from None
    except OSError as exc:
        raise PolicyError(path, f"cannot be read: {exc.strerror}") from None
    return parse_policy(data, path)
