"""Write one file all-or-nothing: a temporary sibling, flushed to disk, then renamed over the target.

A reader (or a crash) sees either the old file or the complete new one, never a partial file; the mode is set
before the rename so the content is never briefly readable by others. A temporary is named after the writing
process (``.<name>.<pid>.tmp``), so a later run can tell one left by a killed writer and remove it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TMP_SUFFIX = ".tmp"
#: A ``*.tmp`` without a writer's pid (older versions wrote those) is stale once it is this old.
STALE_UNNAMED_SECONDS = 3600


@contextmanager
def atomic_target(path: Path, *, mode: int = 0o600, overwrite: bool = True) -> Iterator[Path]:
    """A temporary sibling of ``path`` (already created, permission bits 0o600) for any writer to fill, e.g. one
    that streams batches; when the block ends it is flushed to disk, given ``mode`` and renamed over ``path``. On
    an error it is removed and ``path`` is left as it was.

    With ``overwrite=False`` the final step is a hard link, which fails if ``path`` exists, so two processes
    racing to create the same file cannot both succeed (``FileExistsError`` for the loser).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)  # a temporary left by an earlier process with this pid may carry other bits
        finally:
            os.close(fd)
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, mode)  # exact bits, whatever the umask
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o600, overwrite: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically with permission bits ``mode`` (see ``atomic_target``); returns the
    path."""
    with atomic_target(path, mode=mode, overwrite=overwrite) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
    return Path(path)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(folder: Path, *, skip: tuple[Path, ...] = ()) -> list[Path]:
    """Remove ``*.tmp`` files under ``folder`` whose writer is dead (or, without a pid, that are over an hour old).

    A process killed between writing its temporary and renaming it leaves the temporary behind; it may hold
    the same secrets as the file it was becoming, so the next run deletes it rather than leaving it forever.
    """
    removed: list[Path] = []
    skipped = {Path(s) for s in skip}
    now = time.time()
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if Path(dirpath, d) not in skipped]
        for name in filenames:
            if not name.endswith(TMP_SUFFIX):
                continue
            path = Path(dirpath, name)
            pid = name[: -len(TMP_SUFFIX)].rsplit(".", 1)[-1]
            try:
                stale = not pid_alive(int(pid)) if pid.isdigit() and name.startswith(".") \
                    else now - path.lstat().st_mtime > STALE_UNNAMED_SECONDS
                if stale:
                    path.unlink()
                    removed.append(path)
            except FileNotFoundError:  # its writer finished meanwhile
                continue
    return removed
