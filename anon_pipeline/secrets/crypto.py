"""Authenticated encryption of secrets at rest (key tables, the contract table) with ``cryptography``'s Fernet.

Fernet (AES-128-CBC + HMAC-SHA256, from the ``cryptography`` project) is chosen over hand-assembled AES-GCM
because it is a complete, misuse-resistant recipe: a random IV per message, the MAC checked before anything is
decrypted, one opaque token. A file is a plain first line naming the format and the key id (so a wrong key
gives a useful error) followed by the token; the token encrypts a small JSON header (what the content is)
and the content. The plain first line is authenticated too: the key id is a function of the key, so once the
token authenticates under a key, the line must name exactly that key's id (a flipped id is tampering), and the
token must be the whole rest of the file in canonical base64 (appended bytes are tampering, not ignored).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
from cryptography.fernet import Fernet, InvalidToken

from anon_pipeline.secrets.atomic import atomic_write_bytes
from anon_pipeline.secrets.keys import SecretsError, key_id

MAGIC = b"anon_pipeline-fernet-v1"
ENCRYPTED_SUFFIX = ".enc"
_TOKEN = re.compile(rb"[A-Za-z0-9_-]+={0,2}")


class WrongKeyError(SecretsError):
    """The file was encrypted with another key."""


class TamperedError(SecretsError):
    """The file failed authentication: modified, truncated, or not an encrypted file of ours."""


def encrypt_bytes(data: bytes, key: bytes, *, meta: dict[str, Any] | None = None) -> bytes:
    """Encrypt ``data`` (with ``meta``, authenticated too) under ``key``; returns the file content."""
    header = json.dumps(meta or {}, sort_keys=True).encode()
    token = Fernet(key).encrypt(header + b"\n" + data)
    return MAGIC + b" " + key_id(key).encode() + b"\n" + token


def decrypt_bytes(blob: bytes, key: bytes, *, source: str = "encrypted data") -> tuple[bytes, dict[str, Any]]:
    """Check and decrypt a blob written by :func:`encrypt_bytes`; returns (data, meta). Raises, never half-decrypts."""
    first, sep, token = blob.partition(b"\n")
    parts = first.split(b" ")
    if not sep or len(parts) != 2 or parts[0] != MAGIC:
        raise TamperedError(f"{source} is not an anon_pipeline encrypted file (bad header); it may be truncated")
    wanted = parts[1].decode("ascii", "replace")
    if not _canonical_token(token):
        raise TamperedError(f"{source} failed authentication: its token is not intact (bytes were added, cut or "
                            "changed after it was written); nothing was decoded")
    try:
        plain = Fernet(key).decrypt(token)
    except InvalidToken:
        if wanted != key_id(key):
            raise WrongKeyError(f"{source} was encrypted with key id {wanted}, but the configured key has id "
                                f"{key_id(key)}; use the key it was written with") from None
        raise TamperedError(f"{source} failed authentication: it was modified or truncated after it was "
                            "written; nothing was decoded") from None
    if wanted != key_id(key):
        raise TamperedError(f"{source} failed authentication: its header names key id {wanted}, but it was "
                            f"encrypted with key id {key_id(key)}; the header was altered, nothing was decoded")
    header, _, data = plain.partition(b"\n")
    return data, json.loads(header)


def _canonical_token(token: bytes) -> bool:
    # Python's base64 decoder skips characters outside the alphabet and excess padding; a file of ours holds
    # exactly one canonical token, so anything else is an edit, even one that would still decode.
    if not _TOKEN.fullmatch(token) or len(token) % 4:
        return False
    try:
        return base64.urlsafe_b64encode(base64.urlsafe_b64decode(token)) == token
    except (binascii.Error, ValueError):
        return False


def encrypt_table(frame: pd.DataFrame, key: bytes, *, name: str) -> bytes:
    """A table as encrypted parquet bytes, with its name recorded inside the authenticated header."""
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return encrypt_bytes(buf.getvalue(), key, meta={"name": name, "format": "parquet", "rows": len(frame)})


def decrypt_table(blob: bytes, key: bytes, *, source: str = "encrypted table") -> tuple[pd.DataFrame, dict[str, Any]]:
    data, meta = decrypt_bytes(blob, key, source=source)
    if meta.get("format") != "parquet":
        raise SecretsError(f"{source} holds {meta.get('format')!r} content, not a table")
    return pd.read_parquet(io.BytesIO(data)), meta


def write_encrypted_table(path: Path, frame: pd.DataFrame, key: bytes, *, name: str | None = None,
                          mode: int = 0o600) -> Path:
    """Encrypt ``frame`` and write it atomically to ``path`` (mode 0600 by default)."""
    path = Path(path)
    return atomic_write_bytes(path, encrypt_table(frame, key, name=name or path.name.split(".")[0]), mode=mode)


def read_encrypted_table(path: Path, key: bytes) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise SecretsError(f"encrypted file {path} does not exist")
    return decrypt_table(path.read_bytes(), key, source=f"file {path}")[0]
