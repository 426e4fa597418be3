"""The release writer: versioned atomic folders, read-only bits, encrypted key tables and zip, the manifest,
and the previous release surviving a failed or killed run."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
import pyzipper
from cryptography.fernet import Fernet

from anon_pipeline.release import build_manifest, policy_hash, read_release_table, verify_release, write_release
from anon_pipeline.release import tables as tables_module
from anon_pipeline.release import writer as writer_module

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ANON = pd.DataFrame({"gender": ["F", "M", "F"], "age_band": ["(20, 40]", "(40, 60]", "(20, 40]"]})


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def release(root: Path, **kwargs) -> Path:
    return write_release(root, {"anonymised": ANON}, formats=["parquet", "csv"], **kwargs)


def test_files_are_0440_folders_0550_and_latest_points_at_the_newest(tmp_path):
    key = Fernet.generate_key()
    first = release(tmp_path, key=key, json_files={"report": {"K": 15}})
    assert sorted(p.relative_to(first).as_posix() for p in first.rglob("*")) == [
        "anonymised.csv", "anonymised.parquet", "manifest.json",
        "manifest.sig", "report.json"]
    for p in [first, *first.rglob("*")]:
        assert mode(p) == (0o550 if p.is_dir() else 0o440), p
    second = release(tmp_path, key=key, file_mode=0o444, dir_mode=0o555)
    assert all(mode(p) == (0o555 if p.is_dir() else 0o444) for p in [second, *second.rglob("*")])
    assert second != first and first.exists()
    assert os.readlink(tmp_path / "latest") == second.name
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "latest" / "anonymised.parquet"), ANON)
    assert verify_release(first, key) == [] and verify_release(second, key) == []


def test_manifest_records_checksums_policy_seed_versions_and_checks(tmp_path):
    checks = {"k_anonymity": {"passed": True, "value": 15, "threshold": 15, "blocking": True},
              "no_identifiers": {"passed": True, "value": 0}}
    phash = policy_hash({"name": "insurance", "seed": 3})
    folder = release(tmp_path, manifest=build_manifest(policy_hash=phash, seed=3, checks=checks,
                                                       policy_name="insurance"))
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["policy_hash"] == phash and manifest["seed"] == 3 and manifest["checks"] == checks
    assert set(manifest["files"]) == {"anonymised.csv", "anonymised.parquet"}
    assert manifest["files"]["anonymised.csv"] == hashlib.sha256((folder / "anonymised.csv").read_bytes()).hexdigest()
    assert manifest["software"]["pandas"] == pd.__version__ and "anon_pipeline" in manifest["software"]
    with pytest.raises(ValueError, match="carry no measured 'value'"):
        build_manifest(policy_hash=phash, seed=3, checks={"k": {"passed": True}})


def test_policy_hash_is_canonical_and_changes_with_the_policy():
    assert policy_hash({"a": 1, "b": 2}) == policy_hash({"b": 2, "a": 1})
    assert policy_hash({"a": 1, "b": 2}) != policy_hash({"a": 1, "b": 3})


def test_verify_release_notices_a_changed_file(tmp_path):
    folder = release(tmp_path)
    target = folder / "anonymised.csv"
    folder.chmod(0o755)
    target.chmod(0o644)
    target.write_text("gender,age_band\nF,(0, 20]\n")
    problems = verify_release(folder)
    assert "anonymised.csv: SHA-256 differs from the manifest" in problems
    assert ".: writable" in problems and "anonymised.csv: writable" in problems


def test_encrypted_zip_uses_aes256_and_a_separate_0400_password_file(tmp_path):
    folder = release(tmp_path / "out", encrypted_zip=True)
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "manifest.sig", "release.zip"]  # no tables
    manifest = json.loads((folder / "manifest.json").read_text())
    password_file = Path(manifest["encrypted_zip"]["password_file"])
    assert password_file.parent == tmp_path / "out" / "passwords" and folder not in password_file.parents
    assert mode(password_file) == 0o400 and mode(password_file.parent) == 0o700
    password = password_file.read_text().strip()
    assert len(password) >= 20
    with pyzipper.AESZipFile(folder / "release.zip") as zf:
        assert {i.filename for i in zf.infolist()} == {"anonymised.csv", "anonymised.parquet"}
        # Encrypted, WinZip AES (vendor "AE"), strength 3 = 256-bit keys; not the legacy ZipCrypto of document A.
        assert all(i.flag_bits & 0x1 and i.wz_aes_vendor_id == b"AE" and i.wz_aes_strength == 3
                   for i in zf.infolist())
        with pytest.raises(RuntimeError):
            zf.read("anonymised.csv", pwd=b"wrong password")
        zf.setpassword(password.encode())
        data = zf.read("anonymised.csv")
    assert manifest["encrypted_zip"]["members"]["anonymised.csv"] == hashlib.sha256(data).hexdigest()
    assert data.decode().splitlines()[0] == "gender,age_band"


@pytest.mark.parametrize("where", ["second table", "signature after the zip and its password"])
def test_a_failure_half_way_leaves_the_previous_release_untouched(tmp_path, monkeypatch, where):
    good = release(tmp_path)
    if where == "second table":
        calls = {"n": 0}
        real = tables_module.csv_table

        def fail(frame):
            calls["n"] += 1
            if calls["n"] == 2:
                raise OSError("disk full")
            return real(frame)

        monkeypatch.setattr(tables_module, "csv_table", fail)
    else:
        def fail(*args, **kwargs):
            raise OSError("disk full")

        monkeypatch.setattr(writer_module, "sign", fail)
    with pytest.raises(OSError, match="disk full"):
        write_release(tmp_path, {"a": ANON, "b": ANON}, formats=["csv"], encrypted_zip=True,
                      key=Fernet.generate_key())
    assert sorted(p.name for p in tmp_path.iterdir() if p.name not in ("passwords", "config")) == [good.name, "latest"]
    if where != "second table":
        assert (tmp_path / "passwords").is_dir()          # the failure came after the password was made
    assert not list(tmp_path.glob("passwords/*"))        # no password for a zip that was never released
    assert os.readlink(tmp_path / "latest") == good.name and verify_release(good) == []


_KILLED_WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import pandas as pd
    from anon_pipeline.release import writer

    real_write = writer._write
    def slow_write(path, data):
        if path.name == "second.csv":
            with path.open("wb") as fh:          # half a file on disk, then hang until killed
                fh.write(data[: len(data) // 2])
                fh.flush()
            Path(sys.argv[2]).write_text("mid-write")
            time.sleep(60)
        real_write(path, data)
    writer._write = slow_write
    table = pd.DataFrame({"x": range(10_000)})
    writer.write_release(Path(sys.argv[1]), {"first": table, "second": table}, formats=["csv"])
""")


def test_a_run_killed_mid_write_leaves_the_previous_release_and_pointer(tmp_path):
    root = tmp_path / "releases"
    good = release(root)
    flag = tmp_path / "flag"
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(root), str(flag)], env=env)
    try:
        deadline = time.monotonic() + 60
        while not flag.exists():
            assert proc.poll() is None, "writer exited before reaching the middle of the write"
            assert time.monotonic() < deadline, "writer never reached the middle of the write"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    leftovers = [p for p in root.iterdir() if p.name.startswith(".tmp-")]
    assert len(leftovers) == 1 and (leftovers[0] / "second.csv").exists()   # it really died mid-write
    assert os.readlink(root / "latest") == good.name and verify_release(good) == []
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) == [good.name, "latest"]
    # The next run clears what the dead run left and releases normally.
    newer = release(root)
    assert not [p for p in root.iterdir() if p.name.startswith(".tmp-")]
    assert os.readlink(root / "latest") == newer.name


@pytest.mark.parametrize("zipped", [False, True])
def test_read_release_table_reads_plain_and_zipped_releases(tmp_path, zipped):
    folder = release(tmp_path, encrypted_zip=zipped)
    pd.testing.assert_frame_equal(read_release_table(folder), ANON)
    with pytest.raises(FileNotFoundError, match="no table 'missing'"):
        read_release_table(folder, "missing")
