"""The Dagster layer: builds definitions from policies (assets, checks, IO manager, jobs, schedules).

``PolicyComponent`` is the dg component type (``type: anon_pipeline.defs.PolicyComponent`` in a ``defs.yaml``).
"""

from anon_pipeline.defs.component import PolicyComponent

__all__ = ["PolicyComponent"]
