"""The anonymised (staging) table: every column's op chain, then every group's, fitted into a frozen plan.

``anonymise`` fits and applies; ``replay`` applies a plan fitted earlier to new data (the plan is JSON).
Rows leave in GUID order, which is random: the release must not keep the source's row order, which an
attacker who knows the source export could use to link rows back.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pandera.pandas as pa

from anon_pipeline.errors import TransformError
from anon_pipeline.pipeline.guids import guid_order
from anon_pipeline.pipeline.qi_table import GUID, guid_column, random_guids
from anon_pipeline.policy.load import bind_steps
from anon_pipeline.policy.model import Policy, Role
from anon_pipeline.pipeline.steps import run_steps


@dataclass
class Anonymised:
    table: pd.DataFrame
    plan: dict[str, Any]
    key_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: After every column's steps, before any group's (input column names): the table that synthesised groups
    #: are measured against (the stage output ``before_group_steps``).
    before_group_steps: pd.DataFrame | None = None

    @property
    def plan_id(self) -> str:
        """Identifies the plan (and so the codes): key tables are filed under it and each release names it, so
        an older release is decoded with its own key tables, not the latest ones."""
        return hashlib.sha256(json.dumps(self.plan, sort_keys=True, default=str).encode()).hexdigest()[:16]

    @property
    def suppressed_rows(self) -> int:
        return max(0, int(self.plan.get("rows_in", len(self.table)) - len(self.table)))


def _run(qi_table: pd.DataFrame, policy: Policy, plan: dict[str, Any] | None, groups: bool = True,
         suppress: bool = True) -> Anonymised:
    column_steps, group_steps = bind_steps(policy)
    # Ops that draw from the seed (noise, synthesis) draw by row position, and the qi table's rows come in a
    # random (CSPRNG) order: value order first makes the same input and seed give the same release.
    drawing = any(b.op.draws_by_position for steps in (*column_steps.values(), *group_steps.values()) for b in steps)
    values = [c for c in qi_table.columns if c != GUID]
    table = qi_table.sort_values(values, kind="stable", na_position="last") if drawing and values \
        else qi_table.copy()
    keys: dict[str, pd.DataFrame] = {}
    new_plan: dict[str, Any] = {"policy": policy.name, "seed": policy.seed,
                                "reference_date": policy.reference_date.isoformat() if policy.reference_date else None,
                                "rows_in": len(qi_table), "columns": {}, "groups": {}}
    # Ops that draw per row (noise) seed each row's draw from its GUID (none in a bare frame).
    guids = table[GUID] if GUID in table.columns else None
    for name in policy.kept_columns:
        if policy.columns[name].role is Role.identifier or not column_steps[name]:
            continue  # identifier ops already ran in the qi_table
        replayed = plan["columns"][name] if plan is not None else None
        table[name], new_plan["columns"][name], k = run_steps(table[name], column_steps[name], policy, name,
                                                                     replayed, row_ids=guids)
        keys.update(k)
    before_group_steps = table.copy()
    resized: list[pd.DataFrame] = []
    for group in policy.groups if groups else ():
        replayed = plan["groups"][group.name] if plan is not None else None
        out, new_plan["groups"][group.name], k = run_steps(table[group.columns], group_steps[group.name],
                                                           policy, group.name, replayed, suppress)
        keys.update(k)
        if any(p["plan"].get("row_count_changes") for p in new_plan["groups"][group.name]):
            resized.append(out.reset_index(drop=True))
            continue
        table = table.loc[out.index]
        table[group.columns] = out[group.columns]
    if resized:
        table = _fully_synthetic(resized, policy)
    table = table.rename(columns={c: policy.output_name(c) for c in policy.kept_columns})
    table = table.take(guid_order(table[GUID])).reset_index(drop=True)
    return Anonymised(table, new_plan, keys, before_group_steps)


def _fully_synthetic(outputs: list[pd.DataFrame], policy: Policy) -> pd.DataFrame:
    """A release of another size than the input: allowed only when every kept column is synthesised (there is
    no real row left to attach a column to), each group drawing the same number of rows; rows get new GUIDs."""
    covered = [c for out in outputs for c in out.columns]
    uncovered = [c for c in policy.kept_columns if c not in covered]
    sizes = {len(out) for out in outputs}
    if uncovered or len(sizes) != 1 or len(outputs) != len(policy.groups):
        raise TransformError("*", "rows", f"an output size other than the input's needs every kept column in a "
                             f"synthesised group with the same rows; not synthesised: {uncovered}, group sizes: "
                             f"{sorted(sizes)}")
    table = pd.concat(outputs, axis=1)
    table.insert(0, GUID, pd.array(random_guids(len(table)), dtype="str"))
    return table[[GUID, *policy.kept_columns]]


_SUMMARY_KEYS = ("strategy", "quality", "chosen_node", "levels", "score", "lower_neighbours", "nodes_checked",
                 "search_seconds", "suppressed_rows", "seed", "output_rows", "merged_values", "merged_rows",
                 "dp", "tree", "unique_copies")


def plan_summary(plan: dict[str, Any]) -> dict[str, Any]:
    """What a report may show of a plan: search results, seeds and counts, never codes or value maps (the codes
    of ``encode`` steps are as secret as the key tables)."""
    out: dict[str, Any] = {}
    for kind in ("columns", "groups"):
        for name, steps in plan.get(kind, {}).items():
            for i, step in enumerate(steps):
                kept = {k: step["plan"][k] for k in _SUMMARY_KEYS if k in step["plan"]}
                if kept:
                    out[f"{name}[{i}] {step['op']}"] = kept
    return out


def anonymise(qi_table: pd.DataFrame, policy: Policy) -> Anonymised:
    return _run(qi_table, policy, None)


def replay(qi_table: pd.DataFrame, policy: Policy, plan: dict[str, Any], groups: bool = True,
           suppress: bool = True) -> Anonymised:
    """Apply a plan fitted on other data: same bands, codes and levels; nothing is re-learnt. ``groups=False``
    applies the column steps only (what a synthesised group starts from); ``suppress=False`` keeps every row
    (mapping rows into the release's domain, as the attack evaluation does)."""
    return _run(qi_table, policy, plan, groups, suppress)


def anonymised_schema(policy: Policy) -> pa.DataFrameSchema:
    """Every kept column under its output name, the GUID unique, and no quasi-identifier left missing."""
    columns = {GUID: guid_column()}
    for name in policy.kept_columns:
        spec = policy.columns[name]
        columns[policy.output_name(name)] = pa.Column(
            nullable=spec.nullable or spec.role is not Role.quasi_identifier, required=True)
    return pa.DataFrameSchema(columns, strict=True, name=f"{policy.name}.anonymised")
