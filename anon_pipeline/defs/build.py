"""Build one ``Definitions`` object from every policy file found."""

from __future__ import annotations

import functools
import logging
import os
import re
from pathlib import Path
from typing import Any

import dagster as dg

from anon_pipeline.defs.io_manager import PolicyStagingIOManager
from anon_pipeline.defs.policy_assets import policy_definitions
from anon_pipeline.defs.resources import AnonSettings, DaskCluster
from anon_pipeline.errors import AnonPipelineError, PolicyError, typed_error
from anon_pipeline.pipeline.collector import freeze_built_heap, skip_exit_collections
from anon_pipeline.workdir import default_workdir
from anon_pipeline.policy import load_policy

POLICIES_ENV = "ANON_PIPELINE_POLICIES"
BROKEN_GROUP = "policy_errors"
_log = logging.getLogger(__name__)


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


def broken_policy_asset(file: Path, error: AnonPipelineError, taken: set[str]) -> dg.AssetsDefinition:
    """Stands in for a policy file that does not load: ``policy_errors/<file stem>`` shows the error in the UI
    (its description) and raises it when materialised, so the failure is seen, not just logged."""
    stem = re.sub(r"\W", "_", file.stem) or "policy"
    name, n = stem, 1
    while name in taken:
        n += 1
        name = f"{stem}_{n}"
    taken.add(name)

    @dg.asset(key=[BROKEN_GROUP, name], group_name=BROKEN_GROUP, description=str(error))
    def _broken() -> None:
        raise error.with_traceback(None)

    return _broken


@functools.cache
def shared_resources(workdir: str) -> dict[str, Any]:
    """The resources of a workdir, one instance each, so that the definitions of several policy components
    merge (Dagster refuses two different resources under one key)."""
    return {"io_manager": PolicyStagingIOManager(workdir=workdir), "anon": AnonSettings(workdir=workdir),
            "cluster": DaskCluster()}


def build_definitions(files: list[Path] | None = None, workdir: str | None = None) -> dg.Definitions:
    """Every policy's definitions. A policy file that does not load does not hide the others: it is logged
    as an error and becomes a ``policy_errors/<file stem>`` asset naming the file and the problem."""
    workdir = workdir or str(default_workdir())
    parts: dict[str, list] = {"assets": [], "jobs": [], "schedules": [], "sensors": []}
    names: dict[str, Path] = {}
    broken: set[str] = set()
    for file in files if files is not None else policy_files():
        try:
            policy = load_policy(file)
            if policy.name in names:
                raise PolicyError(file, f"shares the name '{policy.name}' with {names[policy.name]}; not loaded",
                                  field="name")
            built = policy_definitions(policy)
        except Exception as exc:
            error = typed_error(exc)
            if not isinstance(error, PolicyError):
                error = PolicyError(file, f"its definitions could not be built: {error}")
            _log.error("%s", error)
            parts["assets"].append(broken_policy_asset(file, error, broken))
            continue
        names[policy.name] = file
        for kind, defs in built.items():
            parts[kind].extend(defs)
    definitions = dg.Definitions(
        assets=parts["assets"], jobs=parts["jobs"],
        schedules=parts["schedules"], sensors=parts["sensors"],
        resources=dict(shared_resources(workdir)),
        executor=dg.in_process_executor,
    )
    # The process that loads these definitions may run every step: keep the collector off its long-lived heap.
    freeze_built_heap()
    skip_exit_collections()
    return definitions
