"""Secrets at rest: key resolution and key files, authenticated encryption, atomic writes."""

from __future__ import annotations

import os
import stat

import pandas as pd
import pytest
from cryptography.fernet import Fernet

from anon_pipeline import secrets as sec
from anon_pipeline.secrets import atomic as atomic_mod

TABLE = pd.DataFrame({"code": ["Grey", "White"], "education_level": ["compulsory", "undergraduate"]})


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# ---- keys -------------------------------------------------------------------------------------------------------
def test_no_key_configured_creates_a_private_key_file_and_says_where(isolated_keys):
    info = sec.resolve_key(create=True)
    assert info.created and info.path == isolated_keys / "anon_pipeline" / "secrets.key"
    assert mode(info.path) == 0o600 and mode(info.path.parent) == 0o700
    Fernet(info.key)  # a usable key
    again = sec.resolve_key(create=True)
    assert not again.created and again.key == info.key
    assert info.key.decode() not in repr(info)


def test_decoding_never_creates_a_key():
    with pytest.raises(sec.SecretsError, match="no key configured.*ANON_PIPELINE_KEY"):
        sec.resolve_key(create=False)
    assert not sec.default_key_path().exists()


def test_key_precedence_argument_then_env_then_file(tmp_path, monkeypatch):
    explicit = sec.generate_key_file(tmp_path / "explicit.key")
    env_key = Fernet.generate_key()
    monkeypatch.setenv(sec.KEY_ENV, env_key.decode())
    assert sec.resolve_key(explicit).key == explicit.read_bytes().strip()
    assert sec.resolve_key().key == env_key
    monkeypatch.delenv(sec.KEY_ENV)
    monkeypatch.setenv(sec.KEY_FILE_ENV, str(explicit))
    assert sec.resolve_key().path == explicit


def test_malformed_env_key_is_a_clear_error_without_the_value(monkeypatch):
    monkeypatch.setenv(sec.KEY_ENV, "not-a-key-at-all")
    with pytest.raises(sec.SecretsError, match="ANON_PIPELINE_KEY does not hold a valid key") as err:
        sec.resolve_key()
    assert "not-a-key-at-all" not in str(err.value)


def test_key_file_readable_by_others_is_refused(tmp_path):
    path = sec.generate_key_file(tmp_path / "k.key")
    path.chmod(0o644)
    with pytest.raises(sec.SecretsError, match="chmod 600"):
        sec.read_key_file(path)


def test_key_file_inside_a_repository_is_refused(tmp_path):
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    with pytest.raises(sec.SecretsError, match="inside the git work tree"):
        sec.generate_key_file(tmp_path / "repo" / "config" / "k.key")
    assert not (tmp_path / "repo" / "config" / "k.key").exists()


def test_keygen_refuses_to_overwrite_a_key(tmp_path):
    path = sec.generate_key_file(tmp_path / "k.key")
    before = path.read_bytes()
    with pytest.raises(sec.KeyFileExists):
        sec.generate_key_file(path)
    assert path.read_bytes() == before
    sec.generate_key_file(path, overwrite=True)
    assert path.read_bytes() != before and mode(path) == 0o600


# ---- encryption ---------------------------------------------------------------------------------------------------
def test_table_round_trip_and_the_file_holds_no_plaintext(tmp_path):
    key = Fernet.generate_key()
    path = sec.write_encrypted_table(tmp_path / "edu.parquet.enc", TABLE, key)
    blob = path.read_bytes()
    assert b"undergraduate" not in blob and b"Grey" not in blob
    assert mode(path) == 0o600
    pd.testing.assert_frame_equal(sec.read_encrypted_table(path, key), TABLE)


def test_wrong_key_is_named_as_such():
    blob = sec.encrypt_table(TABLE, Fernet.generate_key(), name="edu")
    other = Fernet.generate_key()
    with pytest.raises(sec.WrongKeyError, match=f"configured key has id {sec.key_id(other)}"):
        sec.decrypt_table(blob, other)


@pytest.mark.parametrize("where", ["first token byte", "middle", "last byte", "truncated", "header"])
def test_tampering_is_detected(where):
    key = Fernet.generate_key()
    blob = bytearray(sec.encrypt_table(TABLE, key, name="edu"))
    body = blob.index(b"\n") + 1
    if where == "truncated":
        blob = blob[:-20]
    elif where == "header":
        blob[0:3] = b"xyz"
    else:
        i = {"first token byte": body + 10, "middle": (body + len(blob)) // 2, "last byte": len(blob) - 1}[where]
        # Swap for another base64 character so the damage is in the token, not in its encoding.
        blob[i] = ord("A") if blob[i] != ord("A") else ord("B")
    with pytest.raises(sec.TamperedError):
        sec.decrypt_table(bytes(blob), key)


def test_a_forged_key_id_in_the_header_is_tampering():
    """The plain header names the key id; once the token authenticates, that id is fixed by the key, so an edited
    id is caught rather than ignored."""
    key = Fernet.generate_key()
    blob = sec.encrypt_bytes(b"payload", key, meta={"format": "bytes"})
    assert sec.decrypt_bytes(blob, key) == (b"payload", {"format": "bytes"})
    forged = blob.replace(sec.key_id(key).encode(), b"000000000000", 1)
    with pytest.raises(sec.TamperedError, match="header names key id 000000000000"):
        sec.decrypt_bytes(forged, key)


@pytest.mark.parametrize("tail", [b"\n", b"AAAA", b"==", b"garbage after the token", b"\x00"])
def test_bytes_after_the_token_are_tampering(tail):
    key = Fernet.generate_key()
    blob = sec.encrypt_table(TABLE, key, name="edu")
    with pytest.raises(sec.TamperedError, match="not intact"):
        sec.decrypt_table(blob + tail, key)


def test_atomic_write_failure_leaves_the_old_file(tmp_path, monkeypatch):
    path = sec.atomic_write_bytes(tmp_path / "t.enc", b"old")

    def crash(*args, **kwargs):
        raise OSError("disk vanished")

    monkeypatch.setattr(atomic_mod.os, "replace", crash)
    with pytest.raises(OSError, match="disk vanished"):
        sec.atomic_write_bytes(path, b"new and longer")
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.enc"]
