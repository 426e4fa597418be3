"""Where a run writes: one folder per policy under a work directory, with fixed sub-folders.

    <workdir>/<policy>/samples/      generated sample inputs
    <workdir>/<policy>/staging/      intermediate tables (no direct identifiers)
    <workdir>/<policy>/reports/      anonymity and utility reports of the latest run
    <workdir>/<policy>/key_tables/   key tables (secrets: kept apart from the release)
    <workdir>/<policy>/release/      versioned releases and the ``latest`` pointer
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_WORKDIR_ENV = "ANON_PIPELINE_WORKDIR"


def default_workdir() -> Path:
    return Path(os.environ.get(DEFAULT_WORKDIR_ENV, "anon_output")).resolve()


@dataclass(frozen=True)
class PolicyDirs:
    root: Path

    @classmethod
    def for_policy(cls, workdir: str | Path | None, policy_name: str) -> "PolicyDirs":
        base = Path(workdir).resolve() if workdir is not None else default_workdir()
        return cls(base / policy_name)

    def _sub(self, name: str, mode: int = 0o755) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True, mode=mode)
        return path

    @property
    def samples(self) -> Path:
        return self._sub("samples")

    @property
    def staging(self) -> Path:
        return self._sub("staging", 0o700)

    @property
    def reports(self) -> Path:
        return self._sub("reports")

    @property
    def key_tables(self) -> Path:
        return self._sub("key_tables", 0o700)

    @property
    def release(self) -> Path:
        return self._sub("release")
