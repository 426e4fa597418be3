"""``anon-pipeline keygen``, ``decode`` and ``verify``: make a key, decode an encrypted key table with it, and
check a release against its manifest."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import pandas as pd

from anon_pipeline.release.tables import table_bytes
from anon_pipeline.release.writer import MANIFEST, ReleaseError, verify_release, writable_entries
from anon_pipeline.secrets import (KEY_ENV, KEY_FILE_ENV, SecretsError, atomic_write_bytes, decrypt_bytes,
                                   default_key_path, generate_key_file, resolve_key)


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    keygen = subparsers.add_parser("keygen", help="create the secret key that encrypts key tables (a file only you can read)",
                                   description=f"Create a new key file (default {default_key_path()}). The key "
                                   f"is never printed; point {KEY_FILE_ENV} at the file, or leave it at the "
                                   "default place.")
    keygen.add_argument("--key-file", type=Path, default=None, metavar="FILE",
                        help="where to write the key (outside any git repository; default: the place named above)")
    keygen.add_argument("--force", action="store_true",
                        help="replace an existing key file (files encrypted with it become unreadable)")
    keygen.set_defaults(handler=_keygen)

    decode = subparsers.add_parser("decode", help="decrypt a key table, contract or plan (.enc) for an authorised user",
                                   description=f"Decrypt a key table with the key from --key-file, {KEY_ENV}, "
                                   f"{KEY_FILE_ENV} or the default key file. Writes nothing unless the whole "
                                   "file decrypts and authenticates.")
    decode.add_argument("file", type=Path, metavar="FILE", help="the encrypted file (*.enc)")
    decode.add_argument("--key-file", type=Path, default=None, metavar="FILE",
                        help=f"the key file to decrypt with (default: {KEY_ENV}, {KEY_FILE_ENV} or the default key "
                        "file)")
    decode.add_argument("--out", type=Path, default=None, metavar="FILE",
                        help="write it here (mode 0600; a table as .csv or .parquet); default: stdout (tables as CSV)")
    decode.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    decode.set_defaults(handler=_decode)

    verify = subparsers.add_parser("verify", help="check that a release is signed and no file of it was changed, "
                                   "added or removed",
                                   description="Check the manifest's signature (manifest.sig, with the key from "
                                   f"--key-file, {KEY_ENV}, {KEY_FILE_ENV} or the default key file), then re-hash "
                                   "every file and compare with manifest.json; also report files missing or "
                                   "unlisted, and note files that are writable. Exit 1 when anything is off (an "
                                   "unsigned release included), 2 when the folder or the manifest cannot be read or "
                                   "no key is configured.")
    verify.add_argument("release", type=Path, metavar="RELEASE",
                        help="a release folder, e.g. anon_output/<policy>/release/latest")
    verify.add_argument("--key-file", type=Path, default=None, metavar="FILE",
                        help="the secrets key file to check the signature with (default: as for every command)")
    verify.add_argument("--read-only", action="store_true",
                        help="also fail (exit 1) when a file or folder is writable, as a published release never "
                        "is (a downloaded or unzipped copy always is, so by default that is only a note)")
    verify.set_defaults(handler=_verify)


def _fail(command: str, exc: Exception) -> int:
    print(f"anon-pipeline {command}: error: {exc}", file=sys.stderr)
    return 2


def _keygen(args: argparse.Namespace) -> int:
    try:
        path = generate_key_file(args.key_file, overwrite=args.force)
    except (SecretsError, OSError) as exc:
        return _fail("keygen", exc)
    info = resolve_key(path)
    print(f"wrote key {info.key_id} to {path} (mode 0600); keep it outside the repository and back it up: "
          "key tables encrypted with it cannot be read without it")
    if path != default_key_path():
        print(f"use it with: export {KEY_FILE_ENV}={Path(path).resolve()}")   # absolute: it works from anywhere
    return 0


def _decode(args: argparse.Namespace) -> int:
    try:
        key = resolve_key(args.key_file, create=False)
        if args.file.is_dir():
            raise SecretsError(f"{args.file} is a folder: give one encrypted file in it (*.enc)")
        if not args.file.is_file():
            raise SecretsError(f"encrypted file {args.file} does not exist")
        if args.out is not None and args.out.suffix.lower() not in (".csv", ".parquet", ".json", ".txt", ""):
            raise SecretsError(f"--out {args.out}: decode writes CSV or parquet (a table) or the file's own text; "
                               "name the output .csv or .parquet")
        data, meta = decrypt_bytes(args.file.read_bytes(), key.key, source=f"file {args.file}")
        if meta.get("format") == "parquet":
            frame = pd.read_parquet(io.BytesIO(data))
            out_suffix = args.out.suffix if args.out is not None else ".csv"
            data = table_bytes(frame, "parquet" if out_suffix == ".parquet" else "csv")
            what = f"{len(frame)} row(s)"
        else:
            what = f"{len(data)} byte(s) of {meta.get('format', 'data')}"
        if args.out is None:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
            return 0
        atomic_write_bytes(args.out, data, mode=0o600, overwrite=args.force)
    except FileExistsError:
        return _fail("decode", FileExistsError(f"{args.out} exists; pass --force to overwrite it"))
    except (SecretsError, OSError) as exc:
        return _fail("decode", exc)
    print(f"decoded {what} to {args.out}", file=sys.stderr)
    return 0


def _verify(args: argparse.Namespace) -> int:
    if not (args.release / MANIFEST).is_file():
        return _fail("verify", FileNotFoundError(f"{args.release} has no {MANIFEST}; is it a release folder?"))
    try:
        problems = verify_release(args.release, resolve_key(args.key_file, create=False).key, read_only=False)
        writable = writable_entries(args.release)
    except (SecretsError, ReleaseError, OSError) as exc:
        return _fail("verify", exc)
    for problem in problems:
        print(f"anon-pipeline verify: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"{args.release}: the manifest's signature is valid, and every file matches its SHA-256 in the manifest")
    if writable:
        listed = ", ".join(writable[:3]) + (f" and {len(writable) - 3} more" if len(writable) > 3 else "")
        print(f"anon-pipeline verify: {'error' if args.read_only else 'note'}: {len(writable)} writable "
              f"({listed}): a copy usually is; the published release is read-only", file=sys.stderr)
        return 1 if args.read_only else 0
    print(f"{args.release}: every file and folder is read-only")
    return 0
