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
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from anon_pipeline.errors import AnonPipelineError
from anon_pipeline.release.manifest import library_versions
from anon_pipeline.release.tables import TableBatches, table_bytes, write_formats
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


class _HashedFile:
    """A new private file whose SHA-256 is taken from the bytes as they are written: the manifest gets the
    checksum of exactly what went to disk without reading the file back. ``close`` flushes it to disk."""

    def __init__(self, path: Path) -> None:
        make_dir(path.parent)
        self._file = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE), "wb")
        self._digest = hashlib.sha256()

    def write(self, data: Any) -> int:
        self._digest.update(data)
        return self._file.write(data)

    # What pyarrow's writers ask of a Python file object besides ``write``.
    def tell(self) -> int:
        return self._file.tell()

    def flush(self) -> None:
        self._file.flush()

    @property
    def closed(self) -> bool:
        return self._file.closed

    def close(self, sync: bool = True) -> str:
        """Close (after ``fsync`` unless ``sync`` is false); the hex SHA-256 of everything written."""
        with self._file:
            if sync:
                self._file.flush()
                os.fsync(self._file.fileno())
        return self._digest.hexdigest()


def _write(path: Path, data: bytes) -> str:
    """``data`` into a new private file, flushed to disk; its hex SHA-256."""
    sink = _HashedFile(path)
    try:
        sink.write(data)
    finally:
        digest = sink.close()
    return digest


def _write_tables(paths: Mapping[str, Path], table: pd.DataFrame | TableBatches) -> dict[str, str]:
    """``table`` into ``paths`` (format -> new file) in one pass over its batches; each file's hex SHA-256."""
    sinks: dict[str, _HashedFile] = {}
    try:
        for fmt, path in paths.items():
            sinks[fmt] = _HashedFile(path)
        write_formats(table, sinks)
    except BaseException:
        for sink in sinks.values():
            sink.close(sync=False)
        raise
    return {fmt: sink.close() for fmt, sink in sinks.items()}


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
        digests: dict[str, str | None] = {}
        if encrypted_zip:
            payload = {}
            for name, frame in tables.items():
                # In memory only: no plain copy of a table touches the disk on the way into the zip.
                buffers = {fmt: io.BytesIO() for fmt in formats}
                write_formats(frame, buffers)
                for fmt, buffer in buffers.items():
                    payload[(tmp / _member(tmp, f"{name}.{fmt}")).name] = buffer.getvalue()
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
                members = {fmt: tmp / _member(tmp, f"{name}.{fmt}") for fmt in formats}
                if isinstance(frame, pd.DataFrame):
                    written = {fmt: _write(member, table_bytes(frame, fmt)) for fmt, member in members.items()}
                else:
                    written = _write_tables(members, frame)
                digests.update({members[fmt].relative_to(tmp).as_posix(): d for fmt, d in written.items()})
        for name, doc in (json_files or {}).items():
            member = tmp / _member(tmp, f"{name}.json")
            digests[member.relative_to(tmp).as_posix()] = _write(member, json.dumps(doc, indent=2, default=str).encode())
        # Every file in the folder is listed; one whose bytes were not hashed on the way out is read back.
        present = {p.relative_to(tmp).as_posix(): p for p in sorted(tmp.rglob("*")) if p.is_file()}
        files = {rel: digests.get(rel) or sha256_file(p) for rel, p in present.items()}
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


def verify_release(folder: Path, key: bytes | None = None, *, read_only: bool = True) -> list[str]:
    """Problems with a release folder; empty when sound. The manifest's signature is checked first (an unsigned
    or badly signed release reports only that: nothing it lists can be trusted), then every file: missing,
    changed, unlisted, and (``read_only``, as a published release is) writable. ``key`` defaults to the
    configured key; a malformed manifest raises ``ReleaseError``."""
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
    if read_only:
        problems += [f"{name}: writable" for name in writable_entries(folder)]
    return problems


def writable_entries(folder: Path) -> list[str]:
    """The folder itself (``.``) and what is in it that has a write bit: none in a published release, every one
    in a copy that was downloaded or unzipped."""
    return [p.relative_to(folder).as_posix() or "." for p in [folder, *folder.rglob("*")]
            if stat.S_IMODE(p.stat().st_mode) & 0o222]


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
