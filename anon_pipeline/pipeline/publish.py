"""Writing a run's outputs: reports and key tables beside the release, and the release itself only when every
blocking check passed."""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

import anon_pipeline
from anon_pipeline.errors import BlockingCheckFailed
from anon_pipeline.pipeline.checks import CheckOutcome
from anon_pipeline.pipeline.workdir import PolicyDirs
from anon_pipeline.policy.model import Policy
from anon_pipeline.release import write_release

_LIBRARIES = ("pandas", "numpy", "pyarrow", "pandera", "pydantic", "scipy", "dagster")


def library_versions() -> dict[str, str]:
    out = {"anon_pipeline": anon_pipeline.__version__}
    for lib in _LIBRARIES:
        try:
            out[lib] = version(lib)
        except PackageNotFoundError:
            continue
    return out


def policy_hash(policy: Policy) -> str:
    if policy.path is not None and policy.path.is_file():
        return hashlib.sha256(policy.path.read_bytes()).hexdigest()
    return hashlib.sha256(policy.model_dump_json().encode()).hexdigest()


def write_json(path: Path, doc: Any) -> Path:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")
    tmp.replace(path)
    return path


def write_reports(dirs: PolicyDirs, reports: dict[str, dict]) -> dict[str, Path]:
    return {name: write_json(dirs.reports / f"{name}.json", doc) for name, doc in reports.items()}


def write_key_tables(dirs: PolicyDirs, key_tables: dict[str, pd.DataFrame]) -> Path:
    """Key tables go to their own folder, apart from the release (they decode the codes)."""
    folder = dirs.key_tables
    for name, table in key_tables.items():
        table.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


def release(anonymised: pd.DataFrame, reports: dict[str, dict], outcomes: list[CheckOutcome], policy: Policy,
            dirs: PolicyDirs, *, source_sha256: str | None = None) -> Path:
    """Write the release, or raise ``BlockingCheckFailed`` and write nothing where a consumer reads."""
    failed = {o.name: o.failure_reason() for o in outcomes if o.blocking and not o.passed}
    if failed:
        raise BlockingCheckFailed(policy.name, failed)
    manifest = {
        "policy": policy.name, "policy_sha256": policy_hash(policy), "seed": policy.seed,
        "reference_date": policy.reference_date, "source_sha256": source_sha256, "versions": library_versions(),
        "checks": {o.name: {"passed": o.passed, "blocking": o.blocking, "description": o.description,
                            **{k: v for k, v in o.metadata.items() if k not in ("problems",)}} for o in outcomes},
    }
    return write_release(dirs.release, {"anonymised": anonymised}, formats=policy.release.formats,
                         json_files=reports, manifest=manifest)
