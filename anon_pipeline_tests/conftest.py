"""Shared fixtures: where ``../shared`` is, and skipping with a reason when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Before numpy, scikit-learn or dask load (they read these once): OpenMP and BLAS thread pools spin-wait for cores
# that other processes hold, which on a shared two-core machine made one gradient-boosting fit take 29 s instead
# of 1 s. One thread each unless the caller set otherwise; the Dask tests still get their own worker processes.
for _threads in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED = PROJECT_ROOT.parent / "shared"


def shared_path(*parts: str) -> Path:
    """Path under ``../shared``; skips the calling test with a reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (the shared data folder beside the project), which is absent")
    return path


@pytest.fixture
def insurance_csv() -> Path:
    return shared_path("data", "insurance", "customer_information.csv")


@pytest.fixture
def adult_dir() -> Path:
    return shared_path("data", "adult")


@pytest.fixture(scope="session", autouse=True)
def _key_file_outside_home(tmp_path_factory):
    """Runs encrypt key tables and create a per-user key when none is configured: keep that out of ~/.config."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg_config")))
        yield
