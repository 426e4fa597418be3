"""A separate virtual environment for a peer that pins libraries we cannot share (pandas < 3, numpy < 1.27):
made once, reused while its imports still work."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path


def ensure_venv(venv: Path, imports: str, requirements: Sequence[str], env: Mapping[str, str] | None = None) -> Path:
    """The venv's python, after creating ``venv`` and installing ``requirements`` unless ``import <imports>``
    already works there."""
    python = venv / "bin" / "python"
    probe = [str(python), "-c", f"import {imports}"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"creating {venv} and installing {', '.join(requirements)} (once) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *requirements], check=True,
                   env=dict(env) if env is not None else None)
    return python
