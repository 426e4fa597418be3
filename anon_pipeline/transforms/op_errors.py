"""An op's unexpected exception told as what it is: the op, where it comes from, and the column it failed on.

An op should raise ``TransformError`` for input it cannot take. When a built-in op raises anything else, that is a
bug of this package, and the run reports an internal error. When a plugin's op does (an op registered from another
package, e.g. one that calls ``pd.to_numeric`` on text), the run reports a ``TransformError`` naming the column,
the op and its module, with the exception's type but not its message, which may quote cell values (pandas' do);
``--debug`` shows the original.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from anon_pipeline.errors import AnonPipelineError, TransformError
from anon_pipeline.transforms.registry import Op


@contextmanager
def op_errors(op: Op, column: str, phase: str) -> Iterator[None]:
    """Run ``phase`` (``fit`` or ``apply``) of ``op`` on ``column`` (a group's name for a table op)."""
    try:
        yield
    except (AnonPipelineError, MemoryError, OSError):
        raise  # already typed, or the machine's (reported as the environment's)
    except Exception as exc:
        module = type(op).__module__
        if module == "anon_pipeline" or module.startswith("anon_pipeline."):
            raise
        error = TransformError(column, op.name, f"{phase} raised {type(exc).__name__} in the op from {module} (its "
                               "message is left out: it may quote data values; --debug shows it). An op should "
                               "raise anon_pipeline.errors.TransformError for input it cannot take")
        error.original = exc
        raise error from None
