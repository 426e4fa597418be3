"""anon_pipeline: turn a table of personal data into a release that is provably anonymous and still useful.

Public entry points: ``run_policy`` (the whole pipeline in plain Python), ``load_policy``, and the op
registry (``register_op``, ``ColumnOp``, ``TableOp``, ``OpParams``) for plugins.
"""

from importlib import import_module

from anon_pipeline._version import __version__

# Loaded on first use (PEP 562), so a light entry point (``anon-pipeline sample``, a plugin importing one module)
# does not pay for the whole pipeline (pandas, scipy, OpenDP: about 1.5 s and 300 MB).
_LAZY = {"RunResult": "anon_pipeline.pipeline.run", "run_policy": "anon_pipeline.pipeline.run",
         "load_policy": "anon_pipeline.policy", "ColumnOp": "anon_pipeline.transforms",
         "OpParams": "anon_pipeline.transforms", "TableOp": "anon_pipeline.transforms",
         "register_op": "anon_pipeline.transforms"}

__all__ = ["ColumnOp", "OpParams", "RunResult", "TableOp", "__version__", "load_policy", "register_op",
           "run_policy"]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'anon_pipeline' has no attribute '{name}'")
    value = getattr(import_module(_LAZY[name]), name)
    globals()[name] = value
    return value
