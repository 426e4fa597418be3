"""K over the union of the releases that share a plan: reused codes and bands make them joinable, so an analyst
holding several months sees their rows as one table.

Read from the released files (the newest release of every other partition with the same plan id, from their
manifests) and this run's table; only counts and column names leave here.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from anon_pipeline.metrics.k_anonymity import k_anonymity
from anon_pipeline.pipeline.checks import CheckOutcome, all_quasi_identifier_outputs, k_quasi_identifier_outputs
from anon_pipeline.pipeline.plans import union_releases
from anon_pipeline.workdir import PolicyDirs
from anon_pipeline.policy.model import Policy
from anon_pipeline.release import read_release_table

UNION_CHECK = "union_k_anonymity"
_STAR = "*"


def _k(table: pd.DataFrame, columns: list[str], exclude_suppressed: bool) -> dict[str, Any]:
    if exclude_suppressed:  # rows suppressed to "*" on every column are left out, as the k check does
        table = table[~(table[columns] == _STAR).all(axis=1)]
    k = k_anonymity(table, columns)
    return {"K": k.K, "N": k.n_rows, "n_classes": k.n_classes, "quasi_identifiers": columns}


def union_anonymity(anonymised: pd.DataFrame, policy: Policy, dirs: PolicyDirs, plan_id: str,
                    partition: str | None, source_sha256: str | None) -> dict[str, Any]:
    """K over the k quasi-identifiers and over every released one, on this table and the earlier releases of
    the same plan (one per partition; unpartitioned: one per source file)."""
    earlier = union_releases(dirs, plan_id, partition, source_sha256)
    k_cols, all_cols = k_quasi_identifier_outputs(policy), all_quasi_identifier_outputs(policy)
    parts = [anonymised[all_cols]] + [read_release_table(r.folder)[all_cols] for r in earlier]
    union = pd.concat([p.astype("str") for p in parts], ignore_index=True)
    exclude = policy.privacy.suppressed == "exclude"
    return {"plan_id": plan_id, "k_target": policy.privacy.k,
            "releases": [{"partition": r.partition, "version": r.version} for r in earlier]
            + [{"partition": partition, "version": "this run"}],
            "rows": len(union), **_k(union, k_cols, exclude),
            "all_quasi_identifiers": _k(union, all_cols, exclude)}


def union_markdown(union: dict[str, Any]) -> str:
    wide = union["all_quasi_identifiers"]
    return (f"\n\n## Union of the releases sharing plan {union['plan_id']}\n\n"
            f"{len(union['releases'])} release(s), {union['rows']} rows: K = {union['K']} over "
            f"{', '.join(union['quasi_identifiers'])}; K = {wide['K']} over every released quasi-identifier. "
            "Reused codes make these releases joinable; a person present in several of them counts once per "
            "release here.\n")


def check_union_k(report: dict[str, Any], policy: Policy) -> list[CheckOutcome]:
    union = report["union"]
    target = policy.privacy.k or 1
    passed = union["K"] >= target
    return [CheckOutcome(UNION_CHECK, passed, False,
                         f"K = {union['K']} {'>=' if passed else '<'} k = {target} over "
                         f"{', '.join(union['quasi_identifiers'])} in the union of {len(union['releases'])} "
                         f"release(s) sharing plan {union['plan_id']} ({union['rows']} rows)",
                         {"measured": union["K"], "target": target, "rows": union["rows"],
                          "releases": len(union["releases"]), "K_all_quasi_identifiers":
                          union["all_quasi_identifiers"]["K"]})]
