"""The exit handler that freezes the heap: it runs after the handlers registered later and before the earlier
ones."""

import subprocess
import sys
import textwrap


def test_the_heap_is_frozen_at_exit_after_later_handlers_ran():
    script = textwrap.dedent("""
        import atexit, gc
        atexit.register(lambda: print("earlier handler sees frozen:", gc.get_freeze_count() > 0))
        from anon_pipeline.pipeline.fast_exit import skip_exit_collections
        skip_exit_collections()
        skip_exit_collections()
        atexit.register(lambda: print("later handler sees frozen:", gc.get_freeze_count() > 0))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == [
        "later handler sees frozen: False", "earlier handler sees frozen: True"]
