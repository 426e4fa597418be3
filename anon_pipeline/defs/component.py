"""``PolicyComponent``: one policy declared in a dg project's ``defs.yaml``, as a Dagster Component.

A thin wrapper: ``build_definitions`` (``defs/build.py``) builds the assets, checks, jobs, schedules and sensors,
exactly as for a policy found through ``$ANON_PIPELINE_POLICIES``; the component only says where the policy
file (and the workdir) is.
"""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from anon_pipeline.defs.build import build_definitions


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
