"""Where a run writes: one folder per policy under a work directory, with fixed sub-folders.

    <workdir>/<policy>/samples/      generated sample inputs
    <workdir>/<policy>/staging/      intermediate tables (no direct identifiers), encrypted
    <workdir>/<policy>/reports/      anonymity and utility reports of the latest run
    <workdir>/<policy>/key_tables/   key tables (secrets: kept apart from the release)
    <workdir>/<policy>/release/      versioned releases and the ``latest`` pointer

Every folder here is made 0700 and every file 0600 whatever the umask (``mkdir``'s mode is masked by it, so the
bits are set afterwards); only the work folder and the policy folder we create are 0711, traversable but not
listable, so a group the release is shared with can reach ``release/``. Every path built from a name the policy
gives must resolve inside the policy's folder when it is written: the policy loader refuses such names, and this
is the second line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from anon_pipeline.errors import AnonPipelineError

DEFAULT_WORKDIR_ENV = "ANON_PIPELINE_WORKDIR"
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
TRAVERSE_DIR = 0o711


class UnsafePathError(AnonPipelineError):
    """A path to be written would land outside the policy's folder, or through a link we refuse to follow."""


def default_workdir() -> Path:
    return Path(os.environ.get(DEFAULT_WORKDIR_ENV, "anon_output")).resolve()


def make_dir(path: Path, mode: int = PRIVATE_DIR) -> Path:
    """``mkdir -p`` whose new folders get exactly ``mode`` (mkdir's own mode is masked by the umask)."""
    path = Path(path)
    missing = [p for p in [path, *path.parents] if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    for p in missing:
        os.chmod(p, mode)
    return path


def inside(path: Path, root: Path, what: str = "path") -> Path:
    """``path`` itself, after checking that it resolves (links followed) inside ``root``."""
    resolved, base = Path(path).resolve(), Path(root).resolve()
    if resolved != base and base not in resolved.parents:
        raise UnsafePathError(f"{what} {path} resolves to {resolved}, outside the policy folder {base}; refusing "
                              "to write there")
    return Path(path)


@dataclass(frozen=True)
class PolicyDirs:
    root: Path

    @classmethod
    def for_policy(cls, workdir: str | Path | None, policy_name: str) -> "PolicyDirs":
        base = Path(workdir).resolve() if workdir is not None else default_workdir()
        make_dir(base, TRAVERSE_DIR)
        dirs = cls(inside(base / policy_name, base, f"folder of policy '{policy_name}'"))
        make_dir(dirs.root, TRAVERSE_DIR)
        info = dirs.root.stat()
        if info.st_uid == os.geteuid() and info.st_mode & 0o777 != TRAVERSE_DIR:  # an older version made it 0755
            os.chmod(dirs.root, TRAVERSE_DIR)
        return dirs

    def inside(self, path: Path, what: str = "path") -> Path:
        return inside(path, self.root, what)

    def _sub(self, name: str) -> Path:
        path = self.root / name
        if path.is_symlink():
            raise UnsafePathError(f"{path} is a symbolic link (to {os.readlink(path)}); refusing to follow it: "
                                  f"make {name}/ a real folder inside {self.root}")
        make_dir(self.inside(path, f"folder {name}/"))
        if name != "release":  # folders an older version made 0755; the release writer sets release/ itself
            os.chmod(path, PRIVATE_DIR)
        return path

    @property
    def samples(self) -> Path:
        return self._sub("samples")

    @property
    def staging(self) -> Path:
        return self._sub("staging")

    @property
    def reports(self) -> Path:
        return self._sub("reports")

    @property
    def key_tables(self) -> Path:
        return self._sub("key_tables")

    @property
    def release(self) -> Path:
        return self._sub("release")
