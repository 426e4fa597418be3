"""Where the encryption key for secrets at rest comes from, and how a new one is made.

Order of precedence: the ``ANON_PIPELINE_KEY`` environment variable (the key itself), then
``ANON_PIPELINE_KEY_FILE`` (a path), then a per-user default key file under ``$XDG_CONFIG_HOME/anon_pipeline/``
(``~/.config/anon_pipeline/``). A key file must live outside any git work tree and be readable by its owner
only, as ssh insists for private keys: a key committed by accident or shared with a group is no key at all.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet

from anon_pipeline.errors import AnonPipelineError
from anon_pipeline.secrets.atomic import atomic_write_bytes

log = logging.getLogger(__name__)
KEY_ENV = "ANON_PIPELINE_KEY"
KEY_FILE_ENV = "ANON_PIPELINE_KEY_FILE"
DEFAULT_KEY_NAME = "secrets.key"
KEY_FILE_MODE = 0o600
KEY_DIR_MODE = 0o700


class SecretsError(AnonPipelineError):
    """A key is missing, malformed or unsafe to use, or an encrypted file cannot be decrypted with it."""


class KeyFileExists(SecretsError, FileExistsError):
    """Refusing to overwrite a key file: whatever was encrypted with it would become unreadable."""


@dataclass(frozen=True)
class KeyInfo:
    """A resolved key: the key bytes, where they came from, and whether this call created the key file."""

    key: bytes = b""
    source: str = ""
    path: Path | None = None
    created: bool = False

    @property
    def key_id(self) -> str:
        return key_id(self.key)

    def __repr__(self) -> str:  # never print the key itself
        return f"KeyInfo(source={self.source!r}, path={self.path!r}, created={self.created}, key_id={self.key_id!r})"


def key_id(key: bytes) -> str:
    """A short public fingerprint of a key, so a file can say which key it needs without revealing it."""
    return hashlib.sha256(b"anon_pipeline key id\x00" + key).hexdigest()[:12]


def default_key_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "anon_pipeline"


def default_key_path() -> Path:
    return default_key_dir() / DEFAULT_KEY_NAME


def git_work_tree(path: Path) -> Path | None:
    """The git work tree holding ``path`` (the nearest parent with a ``.git`` entry), or None."""
    for parent in [path, *path.parents]:
        if (parent / ".git").exists():
            return parent
    return None


def _check_outside_repository(path: Path) -> None:
    tree = git_work_tree(path.resolve().parent)
    if tree is not None:
        raise SecretsError(f"key file {path} is inside the git work tree {tree}; keep keys outside any repository "
                           f"(e.g. {default_key_path()}) so they are never committed")


def _validate(key: bytes, where: str) -> bytes:
    key = key.strip()
    try:
        Fernet(key)
    except (ValueError, TypeError):
        raise SecretsError(f"{where} does not hold a valid key (expected 32 url-safe base64-encoded bytes, "
                           "as written by `anon-pipeline keygen`)") from None
    return key


def generate_key_file(path: Path | None = None, *, overwrite: bool = False) -> Path:
    """Write a fresh key to ``path`` (default: the per-user key file) with mode 0600; returns the path.

    The file is created exclusively (or replaced atomically with ``overwrite``), so a concurrent reader never
    sees a half-written key.
    """
    path = Path(path) if path is not None else default_key_path()
    path = path.expanduser()
    _check_outside_repository(path)
    if path.exists() and not overwrite:
        raise KeyFileExists(f"key file {path} already exists; refusing to overwrite it (data encrypted with it would "
                            "become unreadable); pass overwrite/--force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True, mode=KEY_DIR_MODE)
    try:
        atomic_write_bytes(path, Fernet.generate_key() + b"\n", mode=KEY_FILE_MODE, overwrite=overwrite)
    except FileExistsError:
        raise KeyFileExists(f"key file {path} was created by another process meanwhile") from None
    return path


def read_key_file(path: Path) -> bytes:
    path = Path(path).expanduser()
    if not path.is_file():
        raise SecretsError(f"key file {path} does not exist; create one with `anon-pipeline keygen --key-file {path}`")
    _check_outside_repository(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SecretsError(f"key file {path} is readable by others (mode {mode:04o}); run `chmod 600 {path}`")
    return _validate(path.read_bytes(), f"key file {path}")


def resolve_key(key_file: Path | None = None, *, create: bool = False) -> KeyInfo:
    """Find the key: ``key_file`` if given, else the environment, else the per-user default key file.

    With ``create=True`` and no key anywhere, a new default key file is written and ``created`` is set, so the
    caller can tell the user where it is. Decoding never creates a key: a new key cannot decrypt anything.
    """
    if key_file is not None:
        path = Path(key_file).expanduser()
        return KeyInfo(read_key_file(path), "key file", path)
    env_key = os.environ.get(KEY_ENV)
    if env_key:
        return KeyInfo(_validate(env_key.encode(), f"environment variable {KEY_ENV}"), f"${KEY_ENV}")
    env_file = os.environ.get(KEY_FILE_ENV)
    if env_file:
        path = Path(env_file).expanduser()
        return KeyInfo(read_key_file(path), f"${KEY_FILE_ENV}", path)
    path = default_key_path()
    if path.exists():
        return KeyInfo(read_key_file(path), "default key file", path)
    if not create:
        raise SecretsError(f"no key configured: set {KEY_ENV} or {KEY_FILE_ENV}, pass --key-file, or create "
                           f"{path} with `anon-pipeline keygen`")
    try:
        generate_key_file(path)
        created = True
    except FileExistsError:  # another run created it between our check and our write
        created = False
    return KeyInfo(read_key_file(path), "default key file", path, created=created)


def encryption_key() -> bytes:
    """The key a run encrypts and signs with; on a machine with none, a new per-user key file is made and announced."""
    info = resolve_key(create=True)
    if info.created:
        log.warning("created a new key file for encrypted key tables at %s (mode 0600, key id %s); back it up: "
                    "key tables cannot be decoded without it", info.path, info.key_id)
    return info.key
