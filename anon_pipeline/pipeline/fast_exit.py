"""Leaving the interpreter without the garbage collector's passes over everything still alive.

At exit CPython clears every module and runs its cyclic garbage collector several times over what is left: after a
run, the module graphs of Dagster, pandas and pyarrow and the run's own objects, a few hundred thousand objects at
about 0.1 s a pass. On the bundled insurance policy at 1e6 rows those passes took 0.45-0.75 s of a 6.7 s
``dagster asset materialize``, most of the time between its last step and the end of the process.

:func:`skip_exit_collections` freezes the heap (``gc.freeze``) in an exit handler that runs after every handler
registered later, so the collector has nothing to walk. Objects are still freed by reference counting and every
exit handler still runs (logging flushes, ``weakref.finalize`` callbacks such as ``run_policy``'s staging clean-up);
only unreachable reference cycles left at exit are not collected, whose finalisers CPython does not promise to run
at exit anyway.
"""

from __future__ import annotations

import atexit
import gc

_installed = False


def skip_exit_collections() -> None:
    """Freeze the heap at interpreter exit (once per process, however often it is called)."""
    global _installed
    if not _installed:
        atexit.register(gc.freeze)
        _installed = True
