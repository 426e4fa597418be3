"""Resources shared by every policy's assets."""

from __future__ import annotations

import dagster as dg

from anon_pipeline.workdir import default_workdir


class AnonSettings(dg.ConfigurableResource):
    """Where runs write (staging, reports, key tables, releases). Default: ``$ANON_PIPELINE_WORKDIR`` or
    ``./anon_output``."""

    workdir: str = str(default_workdir())
