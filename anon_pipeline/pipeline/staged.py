"""A staged table: a table between two stages, kept on disk as sealed parts, passed as a descriptor.

The streaming engine never holds a whole table: the qi table, the anonymised table and the contract are written
part by part (one part per batch and GUID bucket) and read back bucket by bucket. Between stages, and between
Dagster assets, only the descriptor travels (folder, parts, row count, columns): a few hundred bytes whatever
the table's size. Parts are sealed (``secrets.parts``, AES-GCM) under a key derived from the one that protects the key tables.

A bucket holds the rows whose GUID falls in one slice of the GUID space, so reading the buckets in order, each
sorted by GUID, gives the whole table in GUID order: a random order that owes nothing to the source's.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from anon_pipeline.pipeline.guids import guid_order
from anon_pipeline.secrets import ENCRYPTED_SUFFIX, encryption_key
from anon_pipeline.secrets.parts import read_part as read_sealed
from anon_pipeline.secrets.parts import write_part as write_sealed
from anon_pipeline.workdir import make_dir

_PART = re.compile(r"^b(\d{6})-p(\d{6})\.arrow" + re.escape(ENCRYPTED_SUFFIX) + "$")
_EXTRA = ".extra.arrow" + ENCRYPTED_SUFFIX


def bucket_of(lead: np.ndarray, n_buckets: int) -> np.ndarray:
    """The bucket of each row from the leading 32 bits of its GUID: equal slices of the GUID space."""
    return ((lead.astype(np.uint64) * np.uint64(n_buckets)) >> np.uint64(32)).astype(np.int64)


@dataclass
class StagedTable:
    """Descriptor of a staged table (JSON-able through ``as_dict``)."""

    folder: str
    name: str
    n_buckets: int
    rows: int = 0
    columns: list[str] = field(default_factory=list)
    #: Rows per bucket (filled as parts are written).
    bucket_rows: list[int] = field(default_factory=list)
    #: Outcomes of checks judged by the pass that wrote the table, on every batch it wrote (check name -> passed,
    #: description, metadata): the check reads them here instead of reading the table again.
    checked: dict[str, dict[str, Any]] = field(default_factory=dict)

    # ---- making ----------------------------------------------------------------------------------------------
    @classmethod
    def create(cls, parent: Path, name: str, n_buckets: int) -> "StagedTable":
        folder = make_dir(Path(parent) / f"{name}-{secrets.token_hex(6)}")
        return cls(str(folder), name, max(1, n_buckets), bucket_rows=[0] * max(1, n_buckets))

    def write_part(self, frame: pd.DataFrame, bucket: int, part: int) -> None:
        if not self.columns:
            self.columns = [str(c) for c in frame.columns]
        if len(frame) == 0 and self.rows:
            return  # an empty part adds nothing once the columns are known
        write_sealed(Path(self.folder) / f"b{bucket:06d}-p{part:06d}.arrow{ENCRYPTED_SUFFIX}",
                   frame.reset_index(drop=True), encryption_key(), name=self.name)
        self.rows += len(frame)
        self.bucket_rows[bucket] += len(frame)

    def write_buckets(self, frame: pd.DataFrame, lead: np.ndarray, part: int) -> None:
        """Split ``frame`` by the bucket of each row's GUID (``lead``: its leading 32 bits) and write one part per
        non-empty bucket, each in GUID order: no stored part keeps the source's row order."""
        if len(frame) == 0:
            self.write_part(frame, 0, part)
            return
        order = np.argsort(lead, kind="stable")
        buckets = bucket_of(lead, self.n_buckets)[order]
        # One gather of the whole batch, then a slice (no copy) per bucket.
        frame = frame.take(order)
        cuts = [0, *(np.flatnonzero(np.diff(buckets)) + 1).tolist(), len(frame)]
        for start, end in zip(cuts[:-1], cuts[1:]):
            self.write_part(frame.iloc[start:end], int(buckets[start]), part)

    def write_extra(self, name: str, frame: pd.DataFrame) -> None:
        """A small companion table (aggregates gathered in the same pass, or counted later by whichever process
        needed them first), encrypted like the parts. Written under a temporary name and renamed, so a reader in
        another process sees the whole table or none."""
        target = Path(self.folder) / f"{name}{_EXTRA}"
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        write_sealed(temporary, frame.reset_index(drop=True), encryption_key(), name=name)
        os.replace(temporary, target)

    # ---- reading ---------------------------------------------------------------------------------------------
    def _parts(self) -> dict[int, list[Path]]:
        found: dict[int, list[Path]] = {}
        for path in sorted(Path(self.folder).iterdir()):
            match = _PART.match(path.name)
            if match:
                found.setdefault(int(match.group(1)), []).append(path)
        return found

    def buckets(self, columns: list[str] | None = None, sort_by: str | None = "guid") -> Iterator[pd.DataFrame]:
        """Each bucket's rows (its parts together), in bucket order, each sorted by ``sort_by`` (the GUID by
        default, where the table has one: the whole table then comes in GUID order)."""
        key = encryption_key()
        parts = self._parts()
        if not parts:
            yield self.empty(columns)
            return
        for bucket in sorted(parts):
            yield self._read_bucket(parts[bucket], key, columns, sort_by)

    def bucket(self, i: int, columns: list[str] | None = None, sort_by: str | None = "guid") -> pd.DataFrame | None:
        """One bucket's rows as ``buckets`` gives them (None when it has none): a Dask task reads its own."""
        paths = self._parts().get(i)
        return self._read_bucket(paths, encryption_key(), columns, sort_by) if paths else None

    @staticmethod
    def _read_bucket(paths: list[Path], key: bytes, columns: list[str] | None, sort_by: str | None) -> pd.DataFrame:
        frames = [read_sealed(p, key) for p in paths]
        frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        if sort_by is not None and sort_by in frame.columns and len(frames) > 1:
            frame = frame.take(guid_order(frame[sort_by])).reset_index(drop=True)
        return frame if columns is None else frame[columns]

    def empty(self, columns: list[str] | None = None) -> pd.DataFrame:
        """No rows, the columns and types of the table."""
        parts = self._parts()
        if parts:
            frame = read_sealed(next(iter(parts.values()))[0], encryption_key()).iloc[:0]
        else:
            frame = pd.DataFrame({c: pd.Series(dtype="str") for c in self.columns})
        return frame if columns is None else frame[columns]

    def frame(self, columns: list[str] | None = None, compact: bool = False) -> pd.DataFrame:
        """The whole table in memory. ``compact``: text columns as categoricals (a code per row), the form the
        measures and reports read, a fraction of the memory of strings."""
        pieces = []
        for part in self.buckets(columns):
            if compact:
                part = part.astype({c: "category" for c in part.columns
                                    if pd.api.types.is_string_dtype(part[c].dtype) or part[c].dtype == object})
            pieces.append(part)
        if len(pieces) == 1:
            return pieces[0]
        if not compact:
            return pd.concat(pieces, ignore_index=True)
        # Categoricals with different categories would concatenate as Python strings: unite the categories.
        return pd.DataFrame({c: union_categoricals([p[c] for p in pieces]) if isinstance(
            pieces[0][c].dtype, pd.CategoricalDtype) else pd.concat([p[c] for p in pieces], ignore_index=True)
            for c in pieces[0].columns})

    def has_extra(self, name: str) -> bool:
        return (Path(self.folder) / f"{name}{_EXTRA}").is_file()

    def extra(self, name: str) -> pd.DataFrame | None:
        path = Path(self.folder) / f"{name}{_EXTRA}"
        return read_sealed(path, encryption_key()) if path.is_file() else None

    # ---- passing -----------------------------------------------------------------------------------------------
    def as_dict(self) -> dict[str, Any]:
        return {"staged_table": True, **asdict(self)}

    @classmethod
    def of(cls, value: "StagedTable | dict[str, Any]") -> "StagedTable":
        if isinstance(value, StagedTable):
            return value
        return cls(**{k: v for k, v in value.items() if k != "staged_table"})

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def is_staged(value: Any) -> bool:
    return isinstance(value, StagedTable) or (isinstance(value, dict) and value.get("staged_table") is True)
