"""Policy variants for tests, derived from the bundled policy."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "policies" / "insurance_customers.yaml"


def variant(tmp_path: Path, filename: str = "policy.yaml", **changes) -> Path:
    """Write the bundled policy with top-level keys or dotted paths (``privacy.k``) replaced."""
    data = yaml.safe_load(BUNDLED.read_text())
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split("__")
        for part in parents:
            node = node[part]
        node[last] = value
    path = tmp_path / filename
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
