"""``anon-pipeline keygen`` and ``anon-pipeline decode``: exit codes, messages, and no partial output."""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from anon_pipeline.cli import main
from anon_pipeline.release import write_release
from anon_pipeline.secrets import encryption_key, generate_key_file, read_key_file, write_encrypted_table

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TABLE = pd.DataFrame({"code": [0, 1, 2], "region": ["North", "South", "London"]})


@pytest.fixture
def encrypted(tmp_path):
    key_file = generate_key_file(tmp_path / "keys" / "k.key")
    path = write_encrypted_table(tmp_path / "region.parquet.enc", TABLE, read_key_file(key_file))
    return path, key_file


def test_keygen_writes_a_private_key_where_asked_and_refuses_to_overwrite(tmp_path, capsys):
    target = tmp_path / "k.key"
    assert main(["keygen", "--key-file", str(target)]) == 0
    out = capsys.readouterr().out
    assert str(target) in out and "ANON_PIPELINE_KEY_FILE" in out
    assert read_key_file(target).decode() not in out
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    before = target.read_bytes()
    assert main(["keygen", "--key-file", str(target)]) == 2
    assert "already exists" in capsys.readouterr().err and target.read_bytes() == before


def test_keygen_with_a_relative_path_suggests_an_absolute_one(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["keygen", "--key-file", "keys/k.key"]) == 0
    assert f"export ANON_PIPELINE_KEY_FILE={tmp_path.resolve() / 'keys' / 'k.key'}" in capsys.readouterr().out


def test_keygen_default_location_is_the_user_config_folder(isolated_keys, capsys):
    assert main(["keygen"]) == 0
    assert (isolated_keys / "anon_pipeline" / "secrets.key").is_file()
    assert str(isolated_keys / "anon_pipeline" / "secrets.key") in capsys.readouterr().out


def test_decode_to_file_and_to_stdout(encrypted, tmp_path, capsys):
    path, key_file = encrypted
    out = tmp_path / "region.csv"
    assert main(["decode", str(path), "--key-file", str(key_file), "--out", str(out)]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(out), TABLE)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert main(["decode", str(path), "--key-file", str(key_file), "--out", str(out)]) == 2  # no silent overwrite
    capsys.readouterr()
    assert main(["decode", str(path), "--key-file", str(key_file)]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(capsys.readouterr().out)), TABLE)


def test_decode_with_wrong_or_missing_key_fails_cleanly_and_writes_nothing(encrypted, tmp_path, capsys):
    path, _ = encrypted
    out = tmp_path / "out.parquet"
    wrong = generate_key_file(tmp_path / "wrong.key")
    assert main(["decode", str(path), "--key-file", str(wrong), "--out", str(out)]) == 2
    assert "encrypted with key id" in capsys.readouterr().err
    assert main(["decode", str(path), "--out", str(out)]) == 2           # nothing configured at all
    assert "no key configured" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".out.parquet*"))


def test_decode_of_a_tampered_file_fails_and_writes_nothing(encrypted, tmp_path, capsys):
    path, key_file = encrypted
    blob = bytearray(path.read_bytes())
    blob[-30] = ord("A") if blob[-30] != ord("A") else ord("B")
    path.write_bytes(bytes(blob))
    out = tmp_path / "out.csv"
    assert main(["decode", str(path), "--key-file", str(key_file), "--out", str(out)]) == 2
    assert "failed authentication" in capsys.readouterr().err and not out.exists()


def test_the_installed_command_exits_non_zero_on_error(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    env.pop("ANON_PIPELINE_KEY", None)
    env.pop("ANON_PIPELINE_KEY_FILE", None)
    done = subprocess.run([sys.executable, "-m", "anon_pipeline.cli", "decode", str(tmp_path / "missing.enc")],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "no key configured" in done.stderr


def test_verify_passes_a_sound_release_and_fails_a_changed_one(tmp_path, capsys):
    folder = write_release(tmp_path / "rel", {"t": TABLE}, formats=["csv"])
    assert main(["verify", str(tmp_path / "rel" / "latest")]) == 0
    folder.chmod(0o755)
    (folder / "t.csv").chmod(0o644)
    (folder / "t.csv").write_text("code,region\n0,Nowhere\n")
    capsys.readouterr()
    assert main(["verify", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "t.csv: SHA-256 differs from the manifest" in err and "writable" not in err
    assert main(["verify", str(tmp_path)]) == 2


def test_verify_notes_a_writable_copy_and_fails_it_only_when_asked(tmp_path, capsys):
    """A recipient's copy (downloaded, unzipped) is writable but sound: a note and exit 0; --read-only, for the
    published folder, makes it an error."""
    published = write_release(tmp_path / "rel", {"t": TABLE}, formats=["csv"])
    copy = tmp_path / "copy"
    shutil.copytree(published, copy)
    for p in [copy, *copy.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    capsys.readouterr()
    assert main(["verify", str(copy)]) == 0
    out, err = capsys.readouterr()
    assert "signature is valid" in out and "note: 4 writable (., " in err and "and 1 more)" in err
    assert main(["verify", "--read-only", str(copy)]) == 1
    assert "error: 4 writable" in capsys.readouterr().err
    assert main(["verify", "--read-only", str(published)]) == 0
    assert "every file and folder is read-only" in capsys.readouterr().out


def test_decode_refuses_a_folder_and_an_output_it_would_not_write_as_named(tmp_path, capsys):
    folder = write_release(tmp_path / "rel", {"t": TABLE}, formats=["csv"])
    assert main(["decode", str(folder)]) == 2
    assert "is a folder: give one encrypted file in it" in capsys.readouterr().err
    encrypted = tmp_path / "t.parquet.enc"
    write_encrypted_table(encrypted, TABLE, encryption_key())
    assert main(["decode", str(encrypted), "--out", str(tmp_path / "t.xlsx")]) == 2
    assert "decode writes CSV or parquet" in capsys.readouterr().err and not (tmp_path / "t.xlsx").exists()
    assert main(["decode", str(encrypted), "--out", str(tmp_path / "t.parquet")]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), TABLE)
