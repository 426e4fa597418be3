"""Resources shared by every policy's assets."""

from __future__ import annotations

import dagster as dg

from anon_pipeline.workdir import default_workdir


class AnonSettings(dg.ConfigurableResource):
    """Where runs write (staging, reports, key tables, releases). Default: ``$ANON_PIPELINE_WORKDIR`` or
    ``./anon_output``."""

    workdir: str = str(default_workdir())


class DaskCluster(dg.ConfigurableResource):
    """The engine of the streaming passes: ``streaming`` (in the step's process) or ``dask`` (tasks on a Dask
    cluster, ``pip install 'anon_pipeline[dask]'``). Choose per run in the run config
    (``resources: {cluster: {config: {engine: dask, scheduler_address: tcp://host:8786}}}``); without an address,
    Dask's configuration (``DASK_SCHEDULER_ADDRESS``), else a LocalCluster started for the step."""

    engine: str = "streaming"
    scheduler_address: str | None = None
