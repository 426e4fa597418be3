"""Kept for the modules that still import the work-folder helpers from here; their home is ``anon_pipeline.workdir``
(below ``release``, which needs them too)."""

from anon_pipeline.workdir import (DEFAULT_WORKDIR_ENV, PRIVATE_DIR, PRIVATE_FILE, TRAVERSE_DIR,  # noqa: F401
                                   PolicyDirs, UnsafePathError, default_workdir, inside, make_dir)
