"""A sealed record that the raw_schema check passed on one file's content under one policy's rules.

Dagster runs the ``raw_schema`` check as its own step before the qi pass, and the qi pass then judged the same file
again with every rule: the largest validation of a run, paid twice. The check leaves this record in the staging
folder, named by the file's SHA-256 and a digest of the policy and sealed with the secrets key (authenticated
encryption, like everything in staging). A qi pass that finds a valid record for the file it is about to read,
unchanged since (its SHA-256 is read again), only types the batches: every rule is known to hold for that content.
``run_policy`` never needs one: its qi pass proves the check itself (``Check.proven_by``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from anon_pipeline.pipeline.source import SourceFile, check_unchanged
from anon_pipeline.policy.model import Policy
from anon_pipeline.secrets import (ENCRYPTED_SUFFIX, SecretsError, atomic_write_bytes, decrypt_bytes, encrypt_bytes,
                                   encryption_key)
from anon_pipeline.workdir import make_dir

_FOLDER = "raw-checked"


def _policy_digest(policy: Policy) -> str:
    return hashlib.sha256(policy.model_dump_json().encode()).hexdigest()


def _record(staging: Path, src: SourceFile, policy: Policy) -> tuple[Path, bytes]:
    digest = _policy_digest(policy)
    message = f"raw_schema passed | {src.sha256} | {digest}".encode()
    return Path(staging) / _FOLDER / f"{src.sha256[:32]}-{digest[:32]}{ENCRYPTED_SUFFIX}", message


def record_passed(staging: Path, src: SourceFile, policy: Policy) -> None:
    """Record that every rule of ``policy`` holds for ``src``'s content."""
    path, message = _record(staging, src, policy)
    make_dir(path.parent)
    atomic_write_bytes(path, encrypt_bytes(message, encryption_key()))


def passed_before(staging: Path, src: SourceFile, policy: Policy) -> bool:
    """Whether the raw_schema check passed on this content under these rules (a record sealed with the configured
    key). Raises ``InputDataError`` if the file changed since the run recorded it."""
    path, message = _record(staging, src, policy)
    try:
        found, _ = decrypt_bytes(path.read_bytes(), encryption_key(), source=str(path))
    except (OSError, SecretsError):
        return False  # none, or sealed under another key, or tampered with: judge every rule again
    if found != message:
        return False
    check_unchanged(src)
    return True
