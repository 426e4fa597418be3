"""Write a release atomically: a new versioned folder per run, then a ``latest`` pointer.

Files are written into a temporary sibling folder, flushed to disk, made read-only (files 0444, folders 0555),
and only then renamed into place; the ``latest`` symlink is swapped last (rename is atomic on POSIX). A run that
fails or is killed half-way leaves the last good release and the pointer untouched; the next run removes the
temporary folder a dead run left behind.

Key tables go in encrypted (``keys/<name>.parquet.enc``, see ``anon_pipeline.secrets``). With
``encrypted_zip`` the tables are written only inside an AES-256 zip (pyzipper, WinZip AE-2) whose random
password goes to a 0400 file outside the version folder, so the folder can be shared without the password.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import shutil
import stat
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pyzipper

from anon_pipeline.release.manifest import library_versions
from anon_pipeline.secrets.atomic import atomic_write_bytes
from anon_pipeline.secrets.crypto import encrypt_table

READ_ONLY_FILE = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH                    # 0444
READ_ONLY_DIR = READ_ONLY_FILE | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH    # 0555
PASSWORD_FILE_MODE = 0o400
ZIP_NAME = "release.zip"
KEYS_DIR = "keys"
PASSWORD_DIR = "passwords"
_TMP_PREFIX = ".tmp-"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _version_name() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


def table_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    """A table serialised as ``parquet`` or ``csv`` (no index)."""
    buf = io.BytesIO()
    if fmt == "parquet":
        frame.to_parquet(buf, index=False)
    elif fmt == "csv":
        frame.to_csv(buf, index=False)
    else:
        raise ValueError(f"unknown release format '{fmt}' (parquet, csv)")
    return buf.getvalue()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _write_zip(path: Path, members: Mapping[str, bytes], password: bytes) -> None:
    with pyzipper.AESZipFile(path, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES) as zf:
        zf.setpassword(password)
        zf.setencryption(pyzipper.WZ_AES, nbits=256)
        for name, data in members.items():
            zf.writestr(name, data)
    with path.open("rb+") as fh:
        os.fsync(fh.fileno())


def write_release(root: Path, tables: dict[str, pd.DataFrame], *, formats: list[str],
                  json_files: dict[str, Any] | None = None, manifest: dict[str, Any] | None = None,
                  key_tables: Mapping[str, pd.DataFrame] | None = None, key: bytes | None = None,
                  encrypted_zip: bool = False, password_dir: Path | None = None) -> Path:
    """Write ``tables`` (and JSON documents) into ``root/<version>/`` and point ``root/latest`` at it.

    ``key_tables`` are encrypted with ``key`` (required when there are any). ``manifest`` is merged into the
    written manifest (see ``release.manifest.build_manifest``), which adds the SHA-256 of every file and the
    library versions. With ``encrypted_zip`` the password file is ``password_dir/<version>.zip-password``
    (default ``root/passwords/``). Returns the final version folder.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if key_tables and key is None:
        raise ValueError("write_release: key tables are only ever written encrypted; pass key=")
    clean_stale_temporaries(root)
    version = _version_name()
    tmp = root / f"{_TMP_PREFIX}{version}-{os.getpid()}"
    final = root / version
    tmp.mkdir()
    password_file: Path | None = None
    try:
        payload = {f"{name}.{fmt}": table_bytes(frame, fmt) for name, frame in tables.items() for fmt in formats}
        zip_info: dict[str, Any] | None = None
        if encrypted_zip:
            password = secrets.token_urlsafe(24)  # 32 characters, 192 bits
            _write_zip(tmp / ZIP_NAME, payload, password.encode())
            password_file = Path(password_dir) if password_dir is not None else root / PASSWORD_DIR
            password_file.mkdir(parents=True, exist_ok=True, mode=0o700)
            password_file = password_file / f"{version}.zip-password"
            atomic_write_bytes(password_file, password.encode() + b"\n", mode=PASSWORD_FILE_MODE, overwrite=False)
            zip_info = {"file": ZIP_NAME, "cipher": "AES-256 (WinZip AE-2, pyzipper)",
                        "password_file": str(password_file),
                        "members": {name: hashlib.sha256(data).hexdigest() for name, data in payload.items()}}
        else:
            for name, data in payload.items():
                _write(tmp / name, data)
        for name, frame in (key_tables or {}).items():
            _write(tmp / KEYS_DIR / f"{name}.parquet.enc", encrypt_table(frame, key, name=name))
        for name, doc in (json_files or {}).items():
            _write(tmp / f"{name}.json", json.dumps(doc, indent=2, default=str).encode())
        files = {p.relative_to(tmp).as_posix(): sha256_file(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
        full_manifest: dict[str, Any] = {"version": version, "files": files, "software": library_versions(),
                                         **(manifest or {})}
        if zip_info is not None:
            full_manifest["encrypted_zip"] = zip_info
        _write(tmp / "manifest.json", json.dumps(full_manifest, indent=2, default=str).encode())
        _make_read_only(tmp)
        _fsync_dir(tmp)
        tmp.rename(final)
        _fsync_dir(root)
    except BaseException:
        _remove_tree(tmp)
        if password_file is not None:
            password_file.unlink(missing_ok=True)
        raise
    _point_latest(root, final)
    return final


def read_release_table(folder: Path, name: str = "anonymised") -> pd.DataFrame:
    """A released table read back (parquet preferred, else CSV as strings), from inside the encrypted zip when
    the release has one, with the password from the file its manifest names."""
    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    zip_info = manifest.get("encrypted_zip")
    wanted = [f"{name}.parquet", f"{name}.csv"]
    if zip_info is None:
        present = {n: (folder / n).read_bytes() for n in wanted[:1] if (folder / n).is_file()} or \
                  {n: (folder / n).read_bytes() for n in wanted[1:] if (folder / n).is_file()}
    else:
        password = Path(zip_info["password_file"]).read_text(encoding="utf-8").strip().encode()
        with pyzipper.AESZipFile(folder / zip_info["file"]) as zf:
            zf.setpassword(password)
            present = {n: zf.read(n) for n in zf.namelist() if n in wanted}
    if wanted[0] in present:
        return pd.read_parquet(io.BytesIO(present[wanted[0]]))
    if wanted[1] in present:
        return pd.read_csv(io.BytesIO(present[wanted[1]]), dtype="str")
    raise FileNotFoundError(f"release {folder} has no table '{name}'")


def verify_release(folder: Path) -> list[str]:
    """Problems with a release folder (a file missing, changed, unlisted, or writable); empty when sound."""
    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    listed: dict[str, str] = manifest["files"]
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {"manifest.json"}
    problems = [f"{name}: missing" for name in sorted(set(listed) - present)]
    problems += [f"{name}: not in the manifest" for name in sorted(present - set(listed))]
    problems += [f"{name}: SHA-256 differs from the manifest" for name in sorted(set(listed) & present)
                 if sha256_file(folder / name) != listed[name]]
    for p in [folder, *folder.rglob("*")]:
        if stat.S_IMODE(p.stat().st_mode) & 0o222:
            problems.append(f"{p.relative_to(folder).as_posix() or '.'}: writable")
    return problems


def clean_stale_temporaries(root: Path) -> list[Path]:
    """Remove temporary folders left by release runs that died (their process no longer exists)."""
    removed = []
    for path in Path(root).glob(f"{_TMP_PREFIX}*"):
        pid = path.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            _remove_tree(path)
            removed.append(path)
    for link in Path(root).glob(".latest-*"):
        pid = link.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            link.unlink(missing_ok=True)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _make_read_only(folder: Path) -> None:
    # Deepest first, so a folder is closed only after everything in it.
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        path.chmod(READ_ONLY_DIR if path.is_dir() else READ_ONLY_FILE)
    folder.chmod(READ_ONLY_DIR)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _point_latest(root: Path, target: Path) -> None:
    link = root / "latest"
    tmp_link = root / f".latest-{os.getpid()}"
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    tmp_link.symlink_to(target.name)
    os.replace(tmp_link, link)
    _fsync_dir(root)


def _remove_tree(path: Path) -> None:
    if not path.exists():
        return
    for p in [path, *path.rglob("*")]:
        try:
            p.chmod(p.stat().st_mode | stat.S_IWUSR | stat.S_IXUSR)
        except OSError:
            pass
    shutil.rmtree(path, ignore_errors=True)
