"""What a release's ``manifest.json`` records besides file checksums: provenance and the checks it passed.

A reviewer holding only the release folder can tell which policy (by hash) and seed produced it, with which
versions of this package and its main libraries, and what every check measured.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

#: Distributions whose versions change what a release contains (or how it is protected).
MAIN_LIBRARIES = ("anon_pipeline", "pandas", "numpy", "pyarrow", "scipy", "pandera", "pydantic", "dagster",
                  "cryptography", "pyzipper", "phonenumbers")


def library_versions(names: tuple[str, ...] = MAIN_LIBRARIES) -> dict[str, str]:
    """Installed versions of ``names`` (``"not installed"`` for a missing one); reads metadata, imports nothing."""
    out: dict[str, str] = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = _source_version() if name == "anon_pipeline" else "not installed"
    return out


def _source_version() -> str:
    # A source checkout that was never pip-installed has no metadata; the package still knows its version.
    from anon_pipeline._version import __version__

    return __version__


def policy_hash(policy: Any) -> str:
    """SHA-256 of a policy: of its file when it was loaded from one (so ``sha256sum policy.yaml`` matches),
    else of its canonical JSON form (a pydantic model or a mapping); bytes/text are hashed as given."""
    path = getattr(policy, "path", None)
    if path is not None and Path(path).is_file():
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    if isinstance(policy, (bytes, bytearray)):
        data = bytes(policy)
    elif isinstance(policy, str):
        data = policy.encode()
    else:
        doc = policy.model_dump(mode="json") if hasattr(policy, "model_dump") else dict(policy)
        data = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(data).hexdigest()


def build_manifest(*, policy_hash: str, seed: int, checks: Mapping[str, Mapping[str, Any]],
                   policy_name: str | None = None, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The provenance part of a manifest; :func:`write_release` adds the file checksums and library versions.

    ``checks`` maps a check name to what it measured, e.g. ``{"k_anonymity": {"passed": True, "value": 15,
    "threshold": 15, "blocking": True}}``; every check must carry its measured ``value``.
    """
    missing = [name for name, check in checks.items() if "value" not in check]
    if missing:
        raise ValueError(f"manifest: check(s) {missing} carry no measured 'value'")
    doc: dict[str, Any] = {
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "policy_hash": policy_hash,
        "seed": int(seed),
        "checks": {name: dict(check) for name, check in checks.items()},
    }
    if policy_name is not None:
        doc["policy"] = policy_name
    doc.update(extra or {})
    return doc
