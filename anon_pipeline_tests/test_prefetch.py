"""prefetched: the plain loop's items, order and errors, with the next item made in a background thread."""

from __future__ import annotations

import threading

import pytest

from anon_pipeline.prefetch import prefetched


def test_items_in_order_made_in_another_thread():
    made_in: list[str] = []

    def items():
        for i in range(5):
            made_in.append(threading.current_thread().name)
            yield i

    assert list(prefetched(items())) == [0, 1, 2, 3, 4]
    assert made_in and all(name != threading.current_thread().name for name in made_in)
    assert list(prefetched([])) == []


def test_an_error_is_raised_where_the_plain_loop_raises_it():
    def items():
        yield 1
        yield 2
        raise ValueError("third item broken")

    seen = []
    with pytest.raises(ValueError, match="third item broken"):
        for item in prefetched(items()):
            seen.append(item)
    assert seen == [1, 2]


def test_stopping_early_finishes_the_item_in_the_making_and_closes_the_source():
    closed, made = threading.Event(), []

    def items():
        try:
            for i in range(100):
                made.append(i)
                yield i
        finally:
            closed.set()

    for item in prefetched(items()):
        if item == 2:
            break
    assert closed.is_set()
    assert made in ([0, 1, 2], [0, 1, 2, 3])  # one item ahead at most (none, when it had not started)


def test_an_error_in_the_callers_loop_closes_the_source_too():
    closed = threading.Event()

    def items():
        try:
            yield from range(10)
        finally:
            closed.set()

    with pytest.raises(RuntimeError):
        for item in prefetched(items()):
            if item == 1:
                raise RuntimeError("the caller's own error")
    assert closed.is_set()


def test_calls_behind_run_in_order_in_another_thread_and_their_error_is_raised():
    from anon_pipeline.prefetch import Behind

    done: list[tuple[int, str]] = []
    with Behind() as behind:
        for i in range(5):
            behind.submit(lambda i=i: done.append((i, threading.current_thread().name)))
    assert [i for i, _ in done] == [0, 1, 2, 3, 4]
    assert all(name != threading.current_thread().name for _, name in done)

    def broken():
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        with Behind() as behind:
            behind.submit(broken)
            behind.submit(done.append, (5, ""))  # raises the error of the call before, and is not run
    assert len(done) == 5
