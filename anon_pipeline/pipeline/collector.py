"""Keeping Python's cyclic garbage collector off the heap that lives as long as the process.

A process that runs our stages holds a large heap that never becomes garbage: the module graphs of pandas, pyarrow
and (in Dagster's processes) Dagster, and the definitions built from them, a few hundred thousand objects. The
collector walks all of it at every full collection (about 0.1 s a walk here), a few times during a run at 1e6 rows
and several times more while the interpreter exits. On the bundled insurance policy at 1e6 rows the exit's walks
took 0.45-0.75 s of a 6.7 s ``dagster asset materialize``, and the full collections during its steps 0.25 s.

``gc.freeze`` moves every object alive at the time into a generation the collector never walks. Objects are still
freed by reference counting when they are dropped; only reference cycles among frozen objects are never collected,
so the heap is frozen once the modules and definitions are built (:func:`freeze_built_heap`), when what is alive
stays alive, and at exit (:func:`skip_exit_collections`), when CPython does not promise to finalise what is left
anyway. Every exit handler still runs (logging flushes, ``weakref.finalize`` callbacks such as ``run_policy``'s
staging clean-up).
"""

from __future__ import annotations

import atexit
import functools
import gc


@functools.cache  # once per process
def freeze_built_heap() -> None:
    """Freeze what is alive now, the modules and definitions a long-lived process built."""
    gc.freeze()


@functools.cache  # once per process
def skip_exit_collections() -> None:
    """Freeze the heap at interpreter exit, after every exit handler registered later."""
    atexit.register(gc.freeze)
