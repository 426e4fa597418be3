"""The Dagster entry point (``workspace.yaml`` and ``dagster ... -m anon_pipeline.definitions`` load it)."""

from anon_pipeline.defs.build import build_definitions

defs = build_definitions()
