"""Writing a run's outputs: reports and key tables beside the release, and the release itself only when every
blocking check passed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from anon_pipeline.errors import BlockingCheckFailed
from anon_pipeline.pipeline.checks import CheckOutcome, planned_privacy_checks
from anon_pipeline.pipeline.qi_table import GUID
from anon_pipeline.pipeline.staged import StagedTable
from anon_pipeline.policy.model import Policy
from anon_pipeline.release import build_manifest, policy_hash, write_release
from anon_pipeline.reports.dp_release import dp_release_checks, dp_release_reports
from anon_pipeline.secrets import (ENCRYPTED_SUFFIX, atomic_write_bytes, encrypt_bytes, encryption_key,
                                   remove_stale_temporaries, write_encrypted_table)
from anon_pipeline.workdir import PRIVATE_DIR, PolicyDirs, make_dir

CONTRACTS = "contracts"
ZIP_PASSWORDS = "zip_passwords"


def write_json(path: Path, doc: Any) -> Path:
    """A JSON document written atomically, 0600 whatever the umask."""
    return atomic_write_bytes(path, json.dumps(doc, indent=2, default=str).encode())


def write_reports(dirs: PolicyDirs, reports: dict[str, dict]) -> dict[str, Path]:
    return {name: write_json(dirs.inside(dirs.reports / f"{name}.json", "report"), doc)
            for name, doc in reports.items()}


def key_table_folder(dirs: PolicyDirs, plan_id: str) -> Path:
    return make_dir(dirs.inside(dirs.key_tables / plan_id, "key table folder"))


def write_key_tables(dirs: PolicyDirs, key_tables: dict[str, pd.DataFrame], plan_id: str) -> Path:
    """Key tables go apart from the release, encrypted (``anon-pipeline decode`` reads them), in a folder named
    by the plan they belong to: every run draws new codes, and each release must stay decodable. Temporaries a
    killed run left anywhere outside the release are removed first."""
    remove_stale_temporaries(dirs.root, skip=(dirs.root / "release",))
    folder = key_table_folder(dirs, plan_id)
    if key_tables:
        key = encryption_key()
        for name, table in key_tables.items():
            path = dirs.inside(folder / f"{name}.parquet{ENCRYPTED_SUFFIX}", f"key table '{name}'")
            write_encrypted_table(path, table, key, name=name)
    return folder


def write_plan(folder: Path, plan: dict[str, Any]) -> Path:
    """The fitted plan, encrypted: an encode op's codes in it decode the release as well as a key table does."""
    data = json.dumps(plan, indent=2, default=str).encode()
    return atomic_write_bytes(folder / f"plan.json{ENCRYPTED_SUFFIX}",
                              encrypt_bytes(data, encryption_key(), meta={"name": "plan", "format": "json"}))


def write_contract(dirs: PolicyDirs, contract: pd.DataFrame, version: str) -> Path:
    """The contract (source row <-> GUID) of one release, encrypted, beside the key tables."""
    folder = make_dir(dirs.key_tables / CONTRACTS)
    return write_encrypted_table(dirs.inside(folder / f"{version}.parquet{ENCRYPTED_SUFFIX}", "contract"), contract,
                                 encryption_key(), name="contract")


def release(anonymised: "pd.DataFrame | StagedTable", reports: dict[str, dict], outcomes: list[CheckOutcome],
            policy: Policy, dirs: PolicyDirs, *, source_sha256: str | None = None,
            contract: "pd.DataFrame | StagedTable | None" = None,
            plan_id: str | None = None, plan_reused: bool = False, partition: str | None = None,
            dp_spent: dict[str, dict] | None = None, engine: dict[str, Any] | None = None) -> Path:
    """Write the release, or raise ``BlockingCheckFailed`` and write nothing where a consumer reads.

    A partition's releases go to ``release/<partition>/<version>/`` with their own ``latest``; the manifest
    names the partition, the plan id and whether the plan was reused (then its codes match earlier releases).

    A release whose plan has differentially private steps (``dp_spent``) carries only the report fields and
    check figures computed on the released table (``reports.dp_release``).

    With ``release.contract`` in the policy, the rows of ``contract`` (source row <-> GUID) whose GUID was
    released are written encrypted apart from the release.
    """
    failed = {o.name: o.failure_reason() for o in outcomes if o.blocking and not o.passed}
    if failed:
        raise BlockingCheckFailed(policy.name, failed)
    checks = {o.name: {"passed": o.passed, "blocking": o.blocking, "description": o.description,
                       "value": _measured_value(o),
                       **{k: v for k, v in o.metadata.items() if k not in ("problems",)}} for o in outcomes}
    if dp_spent:
        # A DP table's release carries no figure of the exact input (see reports.dp_release), not even the
        # input file's checksum: with every other row known, it would confirm or refute the last one.
        reports = dp_release_reports(reports)
        checks = dp_release_checks(checks, {"anonymised_schema", *(n for n, _ in planned_privacy_checks(policy))})
        source_sha256 = None
    manifest = build_manifest(policy_hash=policy_hash(policy), seed=policy.seed, checks=checks,
                              policy_name=policy.name,
                              extra={"reference_date": policy.reference_date, "source_sha256": source_sha256,
                                     "partition": partition, "plan_id": plan_id, "plan_reused": plan_reused,
                                     "key_tables": f"key_tables/{plan_id}" if plan_id else None,
                                     # Which engine ran the passes, on how many workers (dask), over how many
                                     # GUID buckets (the apply pass's partitions).
                                     **(engine or {}),
                                     # Per differentially private step: mechanism, epsilon, delta, rho it spent.
                                     **({"dp": dp_spent} if dp_spent else {})})
    root = dirs.release
    if partition is not None:
        # release/ must stay traversable (as write_release leaves it) for the group a partition is shared with.
        root.chmod(int(policy.release.dir_mode, 8) | PRIVATE_DIR)
        root = dirs.inside(root / partition, "partition release folder")
    folder = write_release(root, {"anonymised": anonymised}, formats=policy.release.formats,
                           json_files=reports, manifest=manifest, encrypted_zip=policy.release.encrypted_zip,
                           password_dir=dirs.key_tables / ZIP_PASSWORDS, key=encryption_key(),
                           file_mode=int(policy.release.file_mode, 8), dir_mode=int(policy.release.dir_mode, 8))
    if policy.release.contract and contract is not None:
        # Only rows that were released: suppressed rows have nothing to link, fully synthetic rows (fresh GUIDs)
        # have no source row at all, and then no contract is written.
        links = contract.frame() if isinstance(contract, StagedTable) else contract
        released = pd.concat([b[GUID] for b in anonymised.buckets([GUID])], ignore_index=True) \
            if isinstance(anonymised, StagedTable) else anonymised[GUID]
        linked = links[links[GUID].isin(released)]
        if len(linked):
            write_contract(dirs, linked.reset_index(drop=True), folder.name)
    return folder


def _measured_value(outcome: CheckOutcome) -> Any:
    # The figure a reviewer looks for first: what a privacy target measured (K, l, t, ...), leaked cells for
    # the leak check, else the number of broken schema rules.
    meta = outcome.metadata
    for name in ("measured", "K", "leaked_cells"):
        if name in meta:
            return meta[name]
    return len(meta.get("problems", []))
