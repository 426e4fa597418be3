"""Write one file all-or-nothing: a temporary sibling, flushed to disk, then renamed over the target.

A reader (or a crash) sees either the old file or the complete new one, never a partial file; the mode is set
before the rename so the content is never briefly readable by others.
"""

from __future__ import annotations

import os
from pathlib import Path


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o600, overwrite: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically with permission bits ``mode``; returns the path.

    With ``overwrite=False`` the final step is a hard link, which fails if ``path`` exists, so two processes
    racing to create the same file cannot both succeed (``FileExistsError`` for the loser).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)  # exact bits, whatever the umask
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
