"""Build one ``Definitions`` object from every policy file found."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from anon_pipeline.defs.io_manager import PolicyStagingIOManager
from anon_pipeline.defs.policy_assets import policy_definitions
from anon_pipeline.defs.resources import AnonSettings
from anon_pipeline.pipeline.workdir import default_workdir
from anon_pipeline.policy import load_policy

POLICIES_ENV = "ANON_PIPELINE_POLICIES"


def policy_files() -> list[Path]:
    """``$ANON_PIPELINE_POLICIES`` (a folder or ``:``-separated files), else ``./policies``, else the checkout's."""
    configured = os.environ.get(POLICIES_ENV)
    if configured:
        paths = [Path(p) for p in configured.split(os.pathsep) if p]
    else:
        local = Path.cwd() / "policies"
        paths = [local if local.is_dir() else Path(__file__).resolve().parents[2] / "policies"]
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")) if path.is_dir() else [path])
    return files


def build_definitions(files: list[Path] | None = None, workdir: str | None = None) -> dg.Definitions:
    workdir = workdir or str(default_workdir())
    parts: dict[str, list] = {"assets": [], "asset_checks": [], "jobs": [], "schedules": [], "sensors": []}
    names: dict[str, Path] = {}
    for file in files if files is not None else policy_files():
        policy = load_policy(file)
        if policy.name in names:
            raise ValueError(f"policies {names[policy.name]} and {file} share the name '{policy.name}'")
        names[policy.name] = file
        for kind, defs in policy_definitions(policy).items():
            parts[kind].extend(defs)
    return dg.Definitions(
        **parts,
        resources={"io_manager": PolicyStagingIOManager(workdir=workdir), "anon": AnonSettings(workdir=workdir)},
        executor=dg.in_process_executor,
    )
