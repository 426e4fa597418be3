"""Making the next batch in a background thread while the caller works on the current one.

A pass has two halves per batch: making it (reading and decrypting, parsing, validating, replaying the plan) and
taking it (counting, judging, encrypting and writing). Much of either runs in Arrow, numpy or pandas code that lets go
of Python's lock, so on a machine with two cores the halves overlap: :func:`prefetched` runs the making half one
batch ahead in a single background thread. Order, values and errors are those of the plain loop; the thread only
moves the work. One more batch is in memory at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

_END = object()


def prefetched(items: Iterable[T]) -> Iterator[T]:
    """The items of ``items``, in order, each made in a background thread while the caller holds the one before.
    An error making an item is raised here, where the plain loop would raise it. When the caller stops early, the
    item in the making is finished and ``items`` is closed (a generator's ``finally`` runs), in the caller's
    thread."""
    iterator = iter(items)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="anon-pipeline-prefetch") as pool:
        pending: Future = pool.submit(next, iterator, _END)
        try:
            while True:
                item = pending.result()
                if item is _END:
                    return
                pending = pool.submit(next, iterator, _END)
                yield item
        finally:
            if not pending.cancel():
                pending.exception()  # wait for it: a generator cannot be closed while it runs
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
