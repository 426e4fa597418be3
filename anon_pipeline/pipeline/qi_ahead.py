"""The qi pass run ahead by Dagster's raw_schema check, for the qi_table asset to adopt.

Dagster runs the ``raw_schema`` check as a step of its own, before the ``qi_table`` asset, and both read the whole
file. The qi pass judges every rule of the policy on every row anyway (``run_policy`` has no separate check:
``Check.proven_by``), so the check runs the qi pass itself and leaves what it made in the staging folder: the staged
tables and a record of the stage's outputs, named by the file's SHA-256 and a digest of the policy, sealed with the
secrets key (authenticated encryption, like everything in staging). The ``qi_table`` asset that then reads the same
content under the same rules (the file's SHA-256 is read again) adopts those outputs instead of a second pass: at
1e6 rows, a whole read and typing of the file less.

A record is adopted once: the asset claims it by renaming it, so a second run of the asset runs the pass. A record
no asset adopted (a run that stopped after the check) is replaced, tables and all, by the next check on the same
content, and removed by any check once it is an hour old; until then its tables stay sealed in staging like any
other staged table. A record that lost one of its tables is not adopted, and the rest of its tables are removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from anon_pipeline.jsonable import jsonable
from anon_pipeline.pipeline.source import SourceFile, check_unchanged
from anon_pipeline.pipeline.staged import StagedTable, is_staged
from anon_pipeline.policy.model import Policy
from anon_pipeline.secrets import (ENCRYPTED_SUFFIX, SecretsError, atomic_write_bytes, decrypt_bytes, encrypt_bytes,
                                   encryption_key)
from anon_pipeline.workdir import make_dir

_FOLDER = "qi-ahead"
#: A record no qi_table adopted within this many seconds belongs to a run that stopped after its check.
_STALE_SECONDS = 3600

#: A stage's outputs: name -> (value, metadata).
Outputs = dict[str, tuple[Any, dict[str, Any]]]


def _key(src: SourceFile, policy: Policy) -> str:
    digest = hashlib.sha256(policy.model_dump_json().encode()).hexdigest()
    return f"{src.sha256}|{digest}"


def _record_path(staging: Path, key: str) -> Path:
    return Path(staging) / _FOLDER / f"{hashlib.sha256(key.encode()).hexdigest()[:40]}{ENCRYPTED_SUFFIX}"


def leave(staging: Path, src: SourceFile, policy: Policy, outputs: Outputs) -> None:
    """Leave the qi_table stage's ``outputs``, made from ``src`` under ``policy``, for the asset to adopt."""
    key = _key(src, policy)
    path = _record_path(staging, key)
    make_dir(path.parent)
    for old in path.parent.glob(f"*{ENCRYPTED_SUFFIX}"):
        if old == path or time.time() - old.stat().st_mtime > _STALE_SECONDS:
            _discard(old)
    body = json.dumps({"key": key, "outputs": jsonable({n: [v, m] for n, (v, m) in outputs.items()})})
    atomic_write_bytes(path, encrypt_bytes(body.encode(), encryption_key()))


def adopt(staging: Path, src: SourceFile, policy: Policy) -> Outputs | None:
    """The outputs a raw_schema check left for this content under these rules (sealed with the configured key), or
    None. Raises ``InputDataError`` if the file changed since the run recorded it."""
    key = _key(src, policy)
    path = _record_path(staging, key)
    claimed = path.with_name(f"{path.name}.adopted-{secrets.token_hex(4)}")
    try:
        os.rename(path, claimed)  # atomic: one asset adopts a record, and no check removes its tables meanwhile
    except OSError:
        return None
    try:
        body = _open(claimed)
    finally:
        claimed.unlink(missing_ok=True)
    if body is None or body.get("key") != key:
        return None
    outputs = {name: (value, metadata) for name, (value, metadata) in body["outputs"].items()}
    tables = [StagedTable.of(v) for v, _ in outputs.values() if is_staged(v)]
    if not all(Path(t.folder).is_dir() for t in tables):
        for table in tables:  # what is left of a record that lost a table is of no use to anyone
            table.remove()
        return None
    check_unchanged(src)
    return outputs


def _open(path: Path) -> dict[str, Any] | None:
    try:
        found, _ = decrypt_bytes(path.read_bytes(), encryption_key(), source=str(path))
        return json.loads(found)
    except (OSError, SecretsError, ValueError):
        return None  # sealed under another key, cut short or tampered with: the qi pass runs again


def _discard(path: Path) -> None:
    """Remove a record no asset adopted, and the tables it left (those of a record that no longer opens stay: its
    folders cannot be known, and staging is sealed)."""
    body = _open(path)
    path.unlink(missing_ok=True)
    for value, _ in (body or {}).get("outputs", {}).values():
        if is_staged(value):
            StagedTable.of(value).remove()
