"""Authenticating a release's manifest: HMAC-SHA256 under a key derived from the secrets key with HKDF.

The manifest lists every file's SHA-256, so whoever can rewrite a file can rewrite its hash too; the signature
is what an editor cannot recompute without the key. HMAC (symmetric) rather than Ed25519: the party that checks
a release is the data owner, who already holds the secrets key, and a public key would need a trusted channel
of its own (a key shipped in the release proves nothing). HKDF with its own label keeps the MAC key separate
from the Fernet key that encrypts key tables, so one use cannot be turned against the other.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from anon_pipeline.secrets.keys import SecretsError, key_id

ALGORITHM = "HMAC-SHA256"
KDF = "HKDF-SHA256, info 'anon_pipeline manifest signature v1'"
_INFO = b"anon_pipeline manifest signature v1"


class SignatureError(SecretsError):
    """A signature is missing, malformed, made with another key, or does not match what it signs."""


def _mac_key(key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(key)


def sign(data: bytes, key: bytes) -> bytes:
    """A signature document (JSON bytes) over ``data``."""
    mac = hmac.new(_mac_key(key), data, hashlib.sha256).hexdigest()
    return json.dumps({"algorithm": ALGORITHM, "kdf": KDF, "key_id": key_id(key), "mac": mac}, indent=2).encode()


def check_signature(data: bytes, signature: bytes, key: bytes, *, what: str = "data") -> None:
    """Raise ``SignatureError`` unless ``signature`` (from :func:`sign`) authenticates ``data`` under ``key``."""
    try:
        doc: Any = json.loads(signature)
        mac, signer = doc["mac"], doc["key_id"]
        if doc.get("algorithm") != ALGORITHM or not isinstance(mac, str):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise SignatureError(f"the signature of {what} is malformed") from None
    if signer != key_id(key):
        raise SignatureError(f"{what} was signed with key id {signer}, but the configured key has id "
                             f"{key_id(key)}; verify with the key it was signed with")
    expected = hmac.new(_mac_key(key), data, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, mac):
        raise SignatureError(f"the signature of {what} does not match: it was changed after it was signed")
