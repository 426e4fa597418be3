"""Keeping the collector off the long-lived heap: frozen once the definitions are built, and at exit by a handler
that runs after the handlers registered later and before the earlier ones."""

import subprocess
import sys
import textwrap


def _run(script: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                          check=True)
    return done.stdout.splitlines()


def test_the_heap_is_frozen_at_exit_after_later_handlers_ran():
    assert _run("""
        import atexit, gc
        atexit.register(lambda: print("earlier handler sees frozen:", gc.get_freeze_count() > 0))
        from anon_pipeline.pipeline.collector import skip_exit_collections
        skip_exit_collections()
        skip_exit_collections()
        atexit.register(lambda: print("later handler sees frozen:", gc.get_freeze_count() > 0))
    """) == ["later handler sees frozen: False", "earlier handler sees frozen: True"]


def test_building_the_definitions_freezes_what_they_and_the_modules_hold():
    lines = _run("""
        import gc
        from anon_pipeline.defs.build import build_definitions
        print(gc.get_freeze_count())
        build_definitions([])
        print(gc.get_freeze_count())
    """)
    before, after = map(int, lines[-2:])
    assert before == 0 and after > 100_000
