"""Write a release atomically: a new versioned folder per run, then a ``latest`` pointer.

Files are written into a private temporary sibling folder, flushed to disk, made read-only (by default files
0440, folders 0550: no world access; the policy's ``release: {file_mode, dir_mode}`` sets them), and only then
renamed into place; the ``latest`` symlink is swapped last (rename is atomic on POSIX). A run that fails or is
killed half-way leaves the last good release and the pointer untouched; the next run removes the temporary
folder a dead run left behind.

The manifest is signed (``manifest.sig``, HMAC-SHA256, see ``anon_pipeline.secrets.signing``): whoever edits a
file and recomputes its hash in the manifest cannot recompute the signature without the key, and
:func:`verify_release` checks the signature before it trusts anything the manifest says.

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
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from anon_pipeline.errors import AnonPipelineError
from anon_pipeline.release.manifest import library_versions
from anon_pipeline.release.tables import TableBatches, table_bytes, write_table
from anon_pipeline.secrets.atomic import atomic_write_bytes, pid_alive
from anon_pipeline.secrets.keys import encryption_key, resolve_key
from anon_pipeline.secrets.signing import SignatureError, check_signature, sign
from anon_pipeline.workdir import PRIVATE_DIR, PRIVATE_FILE, UnsafePathError, inside, make_dir

READ_ONLY_FILE = 0o440
READ_ONLY_DIR = 0o550
PASSWORD_FILE_MODE = 0o400
ZIP_NAME = "release.zip"
PASSWORD_DIR = "passwords"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
_TMP_PREFIX = ".tmp-"


class ReleaseError(AnonPipelineError):
    """A release folder cannot be written or checked: a malformed manifest, or a pointer that is not a link."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _version_name() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


def _write(path: Path, data: bytes) -> None:
    make_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _write_with(path: Path, write: Callable[[Path], None]) -> None:
    """A new private file written by ``write(path)``, flushed to disk (as ``_write``)."""
    make_dir(path.parent)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    write(path)
    with path.open("rb+") as fh:
        os.fsync(fh.fileno())


def _write_zip(path: Path, members: Mapping[str, bytes], password: bytes) -> None:
    import pyzipper  # only releases with encrypted_zip need it (0.45 s to import)

    with pyzipper.AESZipFile(path, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES) as zf:
        zf.setpassword(password)
        zf.setencryption(pyzipper.WZ_AES, nbits=256)
        for name, data in members.items():
            zf.writestr(name, data)
    with path.open("rb+") as fh:
        os.fsync(fh.fileno())


def write_release(root: Path, tables: dict[str, pd.DataFrame | TableBatches], *, formats: Sequence[str],
                  json_files: dict[str, Any] | None = None, manifest: dict[str, Any] | None = None,
                  key: bytes | None = None,
                  encrypted_zip: bool = False, password_dir: Path | None = None,
                  file_mode: int = READ_ONLY_FILE, dir_mode: int = READ_ONLY_DIR) -> Path:
    """Write ``tables`` (and JSON documents) into ``root/<version>/`` and point ``root/latest`` at it.

    ``key`` (default: the configured key, see ``secrets.encryption_key``) signs the manifest; key tables are
    never part of a release (``pipeline.publish.write_key_tables`` keeps them apart). ``manifest`` is merged into the written manifest (see ``release.manifest.build_manifest``), which
    adds the SHA-256 of every file and the library versions. With ``encrypted_zip`` the password file is
    ``password_dir/<version>.zip-password`` (default ``root/passwords/``). Files get ``file_mode``, folders
    ``dir_mode``; ``root`` itself ``dir_mode`` plus the owner's rwx. Returns the final version folder.
    """
    root = Path(root)
    if root.is_symlink():
        raise UnsafePathError(f"release folder {root} is a symbolic link (to {os.readlink(root)}); refusing to "
                              "follow it: make it a real folder")
    make_dir(root)
    root.chmod(dir_mode | PRIVATE_DIR)
    latest = root / "latest"
    if latest.exists() and not latest.is_symlink():
        raise ReleaseError(f"{latest} is a real {'folder' if latest.is_dir() else 'file'}, not the link to the "
                           "newest release; move it away so the release pointer can be written")
    key = key if key is not None else encryption_key()
    clean_stale_temporaries(root)
    version = _version_name()
    tmp = root / f"{_TMP_PREFIX}{version}-{os.getpid()}"
    final = root / version
    tmp.mkdir(mode=PRIVATE_DIR)
    tmp.chmod(PRIVATE_DIR)
    password_file: Path | None = None
    try:
        zip_info: dict[str, Any] | None = None
        if encrypted_zip:
            payload = {}
            for name, frame in tables.items():
                for fmt in formats:
                    member = tmp / _member(tmp, f"{name}.{fmt}")
                    write_table(member, frame, fmt)
                    payload[member.name] = member.read_bytes()
                    member.unlink()
            password = secrets.token_urlsafe(24)  # 32 characters, 192 bits
            _write_zip(tmp / ZIP_NAME, payload, password.encode())
            password_file = make_dir(Path(password_dir) if password_dir is not None else root / PASSWORD_DIR)
            password_file = password_file / f"{version}.zip-password"
            atomic_write_bytes(password_file, password.encode() + b"\n", mode=PASSWORD_FILE_MODE, overwrite=False)
            zip_info = {"file": ZIP_NAME, "cipher": "AES-256 (WinZip AE-2, pyzipper)",
                        "password_file": str(password_file),
                        "members": {name: hashlib.sha256(data).hexdigest() for name, data in payload.items()}}
        else:
            for name, frame in tables.items():
                for fmt in formats:
                    member = tmp / _member(tmp, f"{name}.{fmt}")
                    if isinstance(frame, pd.DataFrame):
                        _write(member, table_bytes(frame, fmt))
                    else:
                        _write_with(member, lambda path: write_table(path, frame, fmt))
        for name, doc in (json_files or {}).items():
            _write(tmp / _member(tmp, f"{name}.json"), json.dumps(doc, indent=2, default=str).encode())
        files = {p.relative_to(tmp).as_posix(): sha256_file(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
        full_manifest: dict[str, Any] = {"version": version, "files": files, "software": library_versions(),
                                         **(manifest or {})}
        if zip_info is not None:
            full_manifest["encrypted_zip"] = zip_info
        manifest_bytes = json.dumps(full_manifest, indent=2, default=str).encode()
        _write(tmp / MANIFEST, manifest_bytes)
        _write(tmp / SIGNATURE, sign(manifest_bytes, key))
        _make_read_only(tmp, file_mode, dir_mode)
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


def _member(folder: Path, name: str) -> str:
    """``name`` (built from a policy-given table or report name), once it is known to stay inside ``folder``."""
    inside(folder / name, folder, "release file")
    return name


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
        import pyzipper

        with pyzipper.AESZipFile(folder / zip_info["file"]) as zf:
            zf.setpassword(password)
            present = {n: zf.read(n) for n in zf.namelist() if n in wanted}
    if wanted[0] in present:
        return pd.read_parquet(io.BytesIO(present[wanted[0]]))
    if wanted[1] in present:
        return pd.read_csv(io.BytesIO(present[wanted[1]]), dtype="str")
    raise FileNotFoundError(f"release {folder} has no table '{name}'")


def iter_release_batches(folder: Path, rows: int, name: str = "anonymised") -> Iterator[pd.DataFrame]:
    """A released table read back in batches of ``rows`` (a plain parquet file streams; a CSV-only or zipped
    release is read whole, then cut)."""
    path = Path(folder) / f"{name}.parquet"
    if path.is_file():
        for batch in pq.ParquetFile(path).iter_batches(batch_size=rows):
            yield batch.to_pandas()
        return
    frame = read_release_table(folder, name)
    for start in range(0, max(len(frame), 1), rows):
        yield frame.iloc[start:start + rows]


def verify_release(folder: Path, key: bytes | None = None) -> list[str]:
    """Problems with a release folder; empty when sound. The manifest's signature is checked first (an unsigned
    or badly signed release reports only that: nothing it lists can be trusted), then every file: missing,
    changed, unlisted, or writable. ``key`` defaults to the configured key; a malformed manifest raises
    ``ReleaseError``."""
    folder = Path(folder)
    manifest_bytes = (folder / MANIFEST).read_bytes()
    if not (folder / SIGNATURE).is_file():
        return [f"{MANIFEST}: unsigned (no {SIGNATURE}); its checksums could have been rewritten along with the "
                "files, so the release cannot be verified"]
    try:
        check_signature(manifest_bytes, (folder / SIGNATURE).read_bytes(),
                        key if key is not None else resolve_key().key, what=f"{folder / MANIFEST}")
    except SignatureError as exc:
        return [f"{MANIFEST}: {exc}"]
    listed = _listed_files(folder, manifest_bytes)
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {MANIFEST, SIGNATURE}
    problems = [f"{name}: missing" for name in sorted(set(listed) - present)]
    problems += [f"{name}: not in the manifest" for name in sorted(present - set(listed))]
    problems += [f"{name}: SHA-256 differs from the manifest" for name in sorted(set(listed) & present)
                 if sha256_file(folder / name) != listed[name]]
    for p in [folder, *folder.rglob("*")]:
        if stat.S_IMODE(p.stat().st_mode) & 0o222:
            problems.append(f"{p.relative_to(folder).as_posix() or '.'}: writable")
    return problems


def _listed_files(folder: Path, manifest_bytes: bytes) -> dict[str, str]:
    try:
        files = json.loads(manifest_bytes).get("files")
    except (ValueError, AttributeError):
        raise ReleaseError(f"{folder / MANIFEST} is not a JSON object; is this a release folder?") from None
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise ReleaseError(f"{folder / MANIFEST} has no 'files' list of checksums; is this a release folder?")
    return files


def clean_stale_temporaries(root: Path) -> list[Path]:
    """Remove temporary folders left by release runs that died (their process no longer exists)."""
    removed = []
    for path in Path(root).glob(f"{_TMP_PREFIX}*"):
        pid = path.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not pid_alive(int(pid)):
            _remove_tree(path)
            removed.append(path)
    for link in Path(root).glob(".latest-*"):
        pid = link.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not pid_alive(int(pid)):
            link.unlink(missing_ok=True)
    return removed


def _make_read_only(folder: Path, file_mode: int, dir_mode: int) -> None:
    # Deepest first, so a folder is closed only after everything in it.
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        path.chmod(dir_mode if path.is_dir() else file_mode)
    folder.chmod(dir_mode)


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
