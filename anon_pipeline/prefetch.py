"""Passes on two cores: the next batch made in a background thread while the caller works on the current one, and
the last one written behind.

A pass has two halves per batch: making it (reading and decrypting, parsing, validating, replaying the plan) and
taking it (counting, judging, encrypting and writing). Much of either runs in Arrow, numpy or pandas code that lets go
of Python's lock, so on a machine with two cores the halves overlap: :func:`prefetched` runs the making half one
batch ahead in a single background thread, and :class:`Behind` runs calls (a write) one at a time in another while
the caller goes on. Order, values and errors are those of the plain loop; the threads only move the work. Each holds
one more batch in memory at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
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


class Behind:
    """Calls run one at a time, in the order given, in a background thread, while the caller goes on (e.g. a
    parquet writer's batch while the same batch is written as CSV). ``wait`` raises the first error of a call;
    use it as a context manager, which waits for the last call."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="anon-pipeline-behind")
        self._pending: Future | None = None

    def submit(self, fn: Callable[..., object], *args: object) -> None:
        """Run ``fn(*args)`` once the call before it has ended (its error is raised here, before)."""
        self.wait()
        self._pending = self._pool.submit(fn, *args)

    def wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def __enter__(self) -> "Behind":
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                self.wait()
            elif self._pending is not None:
                self._pending.exception()  # the caller's error wins; the call still ends before the pool does
        finally:
            self._pool.shutdown()
