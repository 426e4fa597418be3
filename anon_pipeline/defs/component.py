"""``PolicyComponent``: one policy declared in a dg project's ``defs.yaml``, as a Dagster Component.

A thin wrapper: ``build_definitions`` (``defs/build.py``) builds the assets, checks, jobs, schedules and sensors,
exactly as for a policy found through ``$ANON_PIPELINE_POLICIES``; the component only says where the policy
file (and the workdir) is.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from pydantic import BaseModel, Field

from anon_pipeline.defs.build import build_definitions


class PolicyScaffoldParams(BaseModel):
    policy: str = Field("policy.yaml", description="The policy file the new component names (relative to the "
                        "current folder, else to the project root); default: policy.yaml beside its defs.yaml.")


class PolicyScaffolder(dg.Scaffolder[PolicyScaffoldParams]):
    """``dg scaffold defs anon_pipeline.defs.PolicyComponent <folder> --policy <file>``: a defs.yaml naming the
    policy by its path relative to the new folder (the policy is not copied: it keeps one home)."""

    @classmethod
    def get_scaffold_params(cls) -> type[PolicyScaffoldParams]:
        return PolicyScaffoldParams

    def scaffold(self, request: dg.ScaffoldRequest[PolicyScaffoldParams]) -> None:
        policy = Path(request.params.policy)
        if not policy.exists() and request.project_root and (request.project_root / policy).exists():
            policy = request.project_root / policy
        named = os.path.relpath(policy.resolve(), request.target_path.resolve()) if policy.exists() else str(policy)
        dg.scaffold_component(request, {"policy": Path(named).as_posix()})


@dg.scaffold_with(PolicyScaffolder)
class PolicyComponent(dg.Component, dg.Model, dg.Resolvable):
    """An anonymisation policy (YAML) as Dagster assets, checks, a job and, if the policy sets them, a schedule
    and an inbox sensor.

    ```yaml
    type: anon_pipeline.defs.PolicyComponent
    attributes:
      policy: insurance_customers.yaml
    ```
    """

    policy: str = Field(description="The policy file (YAML), relative to this defs.yaml's folder.")
    workdir: str | None = Field(
        default=None,
        description="Where runs write staging, reports, key tables and releases, relative to the project root. "
        "Default: $ANON_PIPELINE_WORKDIR, else ./anon_output. Every policy component of a project must use "
        "the same one (it configures the project's IO manager).")

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        folder = context.path if context.path.is_dir() else context.path.parent
        workdir = str((context.project_root / self.workdir).resolve()) if self.workdir else None
        return build_definitions([(folder / self.policy).resolve()], workdir=workdir)
