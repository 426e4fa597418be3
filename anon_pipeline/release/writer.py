"""Write a release atomically: a new versioned folder per run, then a ``latest`` pointer.

Files are written into a temporary sibling folder, made read-only, and only then renamed into place; the
``latest`` symlink is swapped last (rename is atomic on POSIX). A run that fails half-way leaves the last good
release and the pointer untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

READ_ONLY_FILE = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH                    # 0444
READ_ONLY_DIR = READ_ONLY_FILE | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH    # 0555


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _version_name() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


def write_release(root: Path, tables: dict[str, pd.DataFrame], *, formats: list[str],
                  json_files: dict[str, Any] | None = None, manifest: dict[str, Any] | None = None) -> Path:
    """Write ``tables`` (and JSON documents) into ``root/<version>/`` and point ``root/latest`` at it.

    Returns the final version folder. The manifest records the SHA-256 of every file written.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    version = _version_name()
    tmp = root / f".tmp-{version}-{os.getpid()}"
    final = root / version
    tmp.mkdir()
    try:
        for name, frame in tables.items():
            if "parquet" in formats:
                frame.to_parquet(tmp / f"{name}.parquet", index=False)
            if "csv" in formats:
                frame.to_csv(tmp / f"{name}.csv", index=False)
        for name, doc in (json_files or {}).items():
            (tmp / f"{name}.json").write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")
        files = {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        full_manifest = {"version": version, "files": files, **(manifest or {})}
        (tmp / "manifest.json").write_text(json.dumps(full_manifest, indent=2, default=str), encoding="utf-8")
        for path in tmp.iterdir():
            path.chmod(READ_ONLY_FILE)
        tmp.chmod(READ_ONLY_DIR)
        tmp.rename(final)
    except BaseException:
        _remove_tree(tmp)
        raise
    _point_latest(root, final)
    return final


def _point_latest(root: Path, target: Path) -> None:
    link = root / "latest"
    tmp_link = root / f".latest-{os.getpid()}"
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    tmp_link.symlink_to(target.name)
    os.replace(tmp_link, link)


def _remove_tree(path: Path) -> None:
    if not path.exists():
        return
    for p in [path, *path.rglob("*")]:
        try:
            p.chmod(p.stat().st_mode | stat.S_IWUSR | stat.S_IXUSR)
        except OSError:
            pass
    shutil.rmtree(path, ignore_errors=True)
