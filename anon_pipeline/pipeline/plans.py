"""Stored plans and the releases that used them: which plan a run replays (``plan: {reuse: ...}``), and the
listing ``anon-pipeline plans`` prints.

A plan is stored encrypted as ``key_tables/<plan id>/plan.json.enc`` (``publish.write_plan``) beside the key
tables of its codes; every release's manifest names its ``plan_id`` and ``partition``. ``latest`` is the plan
of the newest release of the policy, whatever its partition.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from anon_pipeline.errors import PolicyError
from anon_pipeline.workdir import PolicyDirs
from anon_pipeline.policy.load import bind_steps
from anon_pipeline.policy.model import Policy, PlanReuse
from anon_pipeline.secrets import ENCRYPTED_SUFFIX, decrypt_bytes, encryption_key

PLAN_FILE = f"plan.json{ENCRYPTED_SUFFIX}"


@dataclass(frozen=True)
class ReleaseInfo:
    folder: Path
    version: str
    partition: str | None
    plan_id: str | None
    source_sha256: str | None
    created_utc: str


def releases(dirs: PolicyDirs) -> list[ReleaseInfo]:
    """Every complete release of the policy (``release/<version>/`` and ``release/<partition>/<version>/``),
    oldest first; ``latest`` links and temporaries are skipped."""
    root = dirs.root / "release"
    found = []
    for manifest in [*root.glob("*/manifest.json"), *root.glob("*/*/manifest.json")]:
        rel = manifest.relative_to(root).parts[:-1]
        if any(part == "latest" or part.startswith(".") for part in rel):
            continue
        try:
            doc = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        found.append(ReleaseInfo(manifest.parent, doc.get("version", rel[-1]), doc.get("partition"),
                                 doc.get("plan_id"), doc.get("source_sha256"), doc.get("created_utc", "")))
    return sorted(found, key=lambda r: r.version)


def stored_plans(dirs: PolicyDirs) -> dict[str, datetime]:
    """Plan id -> when its plan file was written (UTC), oldest first."""
    root = dirs.root / "key_tables"
    plans = {p.parent.name: datetime.fromtimestamp(p.stat().st_mtime, timezone.utc)
             for p in root.glob(f"*/{PLAN_FILE}")}
    return dict(sorted(plans.items(), key=lambda item: item[1]))


def read_plan(dirs: PolicyDirs, plan_id: str, policy: Policy) -> dict[str, Any]:
    """The stored plan ``plan_id``, decrypted, after checking it was fitted for this policy's steps."""
    path = dirs.inside(dirs.root / "key_tables" / plan_id / PLAN_FILE, "plan")
    if not path.is_file():
        known = ", ".join(stored_plans(dirs)) or "none"
        raise PolicyError(policy.path, f"plan {plan_id} is not stored in {path.parent.parent} (stored: {known})",
                          field="plan.reuse")
    plan = json.loads(decrypt_bytes(path.read_bytes(), encryption_key(), source=f"plan {path}")[0])
    _check_fits(plan, plan_id, policy)
    return plan


def _check_fits(plan: dict[str, Any], plan_id: str, policy: Policy) -> None:
    # A plan replays each op with the policy's params, so it must come from the same chain of ops: a policy
    # edited since (a step added, an op swapped) needs a fresh fit.
    column_steps, group_steps = bind_steps(policy)
    # Identifier ops run in the qi table, not in the plan.
    wanted = {("columns", n): [s.op_name for s in steps] for n, steps in column_steps.items()
              if steps and n not in policy.identifiers}
    wanted.update({("groups", n): [s.op_name for s in steps] for n, steps in group_steps.items()})
    for (kind, name), ops in wanted.items():
        stored = [step["op"] for step in plan.get(kind, {}).get(name, [])]
        if stored != ops:
            raise PolicyError(policy.path, f"plan {plan_id} was fitted for other steps of '{name}' (ops {stored}, "
                              f"the policy has {ops}); refit (plan: refit) after changing the steps",
                              field="plan.reuse")


def check_rows(plan: dict[str, Any], plan_id: str, policy: Policy, n_rows: int) -> None:
    """A synthesis step replays the number of rows it was fitted on: refuse another number up front."""
    for name, steps in plan.get("groups", {}).items():
        for step in steps:
            fitted = step["plan"].get("input_rows")
            if fitted is not None and not step["plan"].get("row_count_changes") and fitted != n_rows:
                raise PolicyError(policy.path, f"plan {plan_id} synthesises group '{name}' ({step['op']}) as "
                                  f"{fitted} rows, the number it was fitted on; this input has {n_rows}: refit "
                                  "(plan: refit) or set rows: on the step", field="plan.reuse")


def chosen_plan(policy: Policy, dirs: PolicyDirs) -> tuple[str, dict[str, Any]] | None:
    """(plan id, plan) to replay, or None to fit afresh: ``plan: refit``, or ``reuse: latest`` before the
    policy's first release (that run's plan starts the chain)."""
    if not isinstance(policy.plan, PlanReuse):
        return None
    plan_id = policy.plan.reuse
    if plan_id == "latest":
        used = [r.plan_id for r in releases(dirs) if r.plan_id]
        if not used:
            return None
        plan_id = used[-1]
    return plan_id, read_plan(dirs, plan_id, policy)


def union_releases(dirs: PolicyDirs, plan_id: str, partition: str | None,
                   source_sha256: str | None) -> list[ReleaseInfo]:
    """The earlier releases an analyst can join with this run's: same plan, the newest per partition (or per
    source file, unpartitioned), the current partition or file left out (this run replaces it)."""
    newest: dict[str | None, ReleaseInfo] = {}
    for r in releases(dirs):
        if r.plan_id == plan_id:
            newest[r.partition if r.partition is not None else r.source_sha256] = r
    current = partition if partition is not None else source_sha256
    return [r for group, r in newest.items() if group != current]
