"""anon_pipeline: turn a table of personal data into a release that is provably anonymous and still useful.

Public entry points: ``run_policy`` (the whole pipeline in plain Python), ``load_policy``, and the op
registry (``register_op``, ``ColumnOp``, ``TableOp``, ``OpParams``) for plugins.
"""

from anon_pipeline._version import __version__
from anon_pipeline.pipeline.run import RunResult, run_policy  # noqa: E402
from anon_pipeline.policy import load_policy  # noqa: E402
from anon_pipeline.transforms import ColumnOp, OpParams, TableOp, register_op  # noqa: E402

__all__ = ["ColumnOp", "OpParams", "RunResult", "TableOp", "__version__", "load_policy", "register_op",
           "run_policy"]
