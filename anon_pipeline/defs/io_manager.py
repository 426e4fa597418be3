"""The IO manager: staging tables and small documents under ``<workdir>/<policy>/staging``, encrypted at rest.

Staging tables hold the quasi-identifiers in clear (birthdates, postcodes, exact measures) and the contract
(source row <-> GUID), so every output is written with the Fernet helpers of ``anon_pipeline.secrets`` under the
key that encrypts the key tables (``*.parquet.enc``, ``*.json.enc``, 0600). The ``raw`` asset stores only a
descriptor of the source file (path, checksum, size), never a copy of the data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from anon_pipeline.pipeline.staged import StagedTable, is_staged
from anon_pipeline.workdir import PolicyDirs, default_workdir, make_dir
from anon_pipeline.secrets import (ENCRYPTED_SUFFIX, atomic_write_bytes, decrypt_bytes, encrypt_bytes,
                                   encryption_key, read_encrypted_table, write_encrypted_table)


class PolicyStagingIOManager(dg.ConfigurableIOManager):
    workdir: str = str(default_workdir())

    def _base(self, key: dg.AssetKey, partition: str | None = None) -> Path:
        policy, *rest = key.path
        dirs = PolicyDirs.for_policy(self.workdir, policy)
        folder = dirs.staging if partition is None else make_dir(dirs.inside(dirs.staging / partition, "staging"))
        return dirs.inside(folder / "__".join(rest), "staging file")

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        base = self._base(context.asset_key, _partition(context))
        key = encryption_key()
        if isinstance(obj, pd.DataFrame):
            write_encrypted_table(base.with_suffix(f".parquet{ENCRYPTED_SUFFIX}"), obj, key, name=base.name)
        else:
            _remove_replaced(base.with_suffix(f".json{ENCRYPTED_SUFFIX}"), obj)
            data = json.dumps(obj, indent=2, default=str).encode()
            atomic_write_bytes(base.with_suffix(f".json{ENCRYPTED_SUFFIX}"),
                               encrypt_bytes(data, key, meta={"name": base.name, "format": "json"}))
        for old in (".parquet", ".json"):  # what earlier versions left in clear
            base.with_suffix(old).unlink(missing_ok=True)

    def load_input(self, context: dg.InputContext) -> Any:
        base = self._base(context.asset_key, _partition(context))
        table = base.with_suffix(f".parquet{ENCRYPTED_SUFFIX}")
        if table.is_file():
            return read_encrypted_table(table, encryption_key())
        doc = base.with_suffix(f".json{ENCRYPTED_SUFFIX}")
        if not doc.is_file():
            raise FileNotFoundError(f"no staged output for {context.asset_key.to_user_string()} in {base.parent}; "
                                    "materialise its upstream assets first")
        return json.loads(decrypt_bytes(doc.read_bytes(), encryption_key(), source=f"file {doc}")[0])


def _remove_replaced(doc: Path, new: Any) -> None:
    """The parts of the staged table a new materialisation replaces: only the newest is ever read again."""
    if not doc.is_file():
        return
    try:
        old = json.loads(decrypt_bytes(doc.read_bytes(), encryption_key(), source=f"file {doc}")[0])
    except Exception:  # unreadable (another key, an older format): leave it, it is encrypted
        return
    if is_staged(old) and not (is_staged(new) and new["folder"] == old["folder"]):
        StagedTable.of(old).remove()


def _partition(context: dg.OutputContext | dg.InputContext) -> str | None:
    # Each partition stages its own tables: a backfill's runs must not read each other's.
    return context.asset_partition_key if context.has_asset_partitions else None
