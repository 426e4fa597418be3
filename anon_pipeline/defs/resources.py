"""Resources shared by every policy's assets."""

from __future__ import annotations

import dagster as dg
from pydantic import field_validator

from anon_pipeline.workdir import default_workdir


class AnonSettings(dg.ConfigurableResource):
    """Where runs write (staging, reports, key tables, releases; default: ``$ANON_PIPELINE_WORKDIR`` or
    ``./anon_output``), and the streaming engine's batch size for a run."""

    workdir: str = str(default_workdir())
    #: Rows per batch of the streaming engine for this run (``resources: {anon: {config: {batch_rows: 50000}}}``);
    #: default: the policy's ``source.batch_rows``.
    batch_rows: int | None = None

    @field_validator("batch_rows")
    @classmethod
    def _positive(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError(f"batch_rows must be at least 1, not {value}")
        return value


class DaskCluster(dg.ConfigurableResource):
    """The engine of the streaming passes: ``streaming`` (in the step's process) or ``dask`` (tasks on a Dask
    cluster, ``pip install 'anon_pipeline[dask]'``). Choose per run in the run config
    (``resources: {cluster: {config: {engine: dask, scheduler_address: tcp://host:8786}}}``); without an address,
    Dask's configuration (``DASK_SCHEDULER_ADDRESS``), else a LocalCluster started for the step."""

    engine: str = "streaming"
    scheduler_address: str | None = None
