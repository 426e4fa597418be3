"""The release of a streamed table: one pass over its batches for every format, the bytes the per-format writer
wrote before, checksums taken from the bytes on their way to disk, and formula cells found by their first byte."""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import pyzipper
from hypothesis import given, settings
from hypothesis import strategies as st

from anon_pipeline.release import read_release_table, verify_release, write_release
from anon_pipeline.release.tables import FORMULA_START, _may_start_formula, neutralise_formulas, table_bytes


class Batches:
    """A table given batch by batch, counting how often it is read (a staged table decrypts on every read)."""

    def __init__(self, frames: list[pd.DataFrame], fail_at: int | None = None) -> None:
        self.frames, self.fail_at, self.passes = frames, fail_at, 0

    def buckets(self):
        self.passes += 1
        for i, frame in enumerate(self.frames):
            if i == self.fail_at:
                raise OSError("disk full")
            yield frame


def _frames() -> list[pd.DataFrame]:
    rng = np.random.default_rng(5)
    cells = ["=1+1", "+x", "-2", "@A1", "\tt", "\rr", "plain", "é=", "", None]
    frames = []
    for start in (0, 40, 80):
        n = 40
        frames.append(pd.DataFrame({
            "guid": pd.array([f"{start + i:08x}-0000-4000-8000-000000000000" for i in range(n)], dtype="str"),
            "text": pd.array([cells[j] for j in rng.integers(0, len(cells), n)], dtype="str"),
            "band": pd.array(rng.choice(["(20, 40]", "(40, 60]"], n), dtype="str"),
            "score": rng.normal(size=n),
            "count": pd.array(rng.integers(0, 9, n), dtype="Int64")}))
    return frames


def _old_parquet(frames: list[pd.DataFrame]) -> bytes:
    # What the per-format writer wrote: the first batch's schema, every batch converted to it.
    sink = io.BytesIO()
    schema = pa.Schema.from_pandas(frames[0], preserve_index=False)
    with pq.ParquetWriter(sink, schema) as writer:
        for frame in frames:
            writer.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False))
    return sink.getvalue()


def _old_csv(frames: list[pd.DataFrame]) -> bytes:
    # The header once, then every batch's rows as a whole-table CSV spells them.
    pieces = [table_bytes(frame, "csv") for frame in frames]
    return pieces[0] + b"".join(piece.split(b"\n", 1)[1] for piece in pieces[1:])


def test_a_streamed_table_is_read_once_and_written_as_before(tmp_path):
    frames = _frames()
    table = Batches(frames)
    folder = write_release(tmp_path, {"anonymised": table}, formats=["parquet", "csv"], json_files={"r": {"K": 5}})
    assert table.passes == 1
    assert (folder / "anonymised.parquet").read_bytes() == _old_parquet(frames)
    assert (folder / "anonymised.csv").read_bytes() == _old_csv(frames)
    assert b"'=1+1" in (folder / "anonymised.csv").read_bytes()
    files = json.loads((folder / "manifest.json").read_text())["files"]
    assert files == {name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
                     for name in ("anonymised.csv", "anonymised.parquet", "r.json")}
    assert verify_release(folder) == []
    pd.testing.assert_frame_equal(read_release_table(folder), pd.concat(frames, ignore_index=True))


def test_a_batch_typed_otherwise_is_cast_to_the_first_batchs_types(tmp_path):
    frames = _frames()
    frames[1] = frames[1].assign(text=pd.Series([None] * len(frames[1]), dtype=object))  # Arrow infers "null"
    folder = write_release(tmp_path, {"t": Batches(frames)}, formats=["parquet", "csv"])
    assert (folder / "t.parquet").read_bytes() == _old_parquet(frames)
    assert (folder / "t.csv").read_bytes() == _old_csv(frames)
    assert pq.read_schema(folder / "t.parquet").field("text").type == pa.large_string()


def test_a_streamed_table_in_the_encrypted_zip_is_the_plain_releases_files(tmp_path):
    frames = _frames()
    plain = write_release(tmp_path / "plain", {"t": Batches(frames)}, formats=["csv", "parquet"])
    table = Batches(frames)
    zipped = write_release(tmp_path / "zipped", {"t": table}, formats=["csv", "parquet"], encrypted_zip=True)
    assert table.passes == 1 and sorted(p.name for p in zipped.iterdir()) == ["manifest.json", "manifest.sig",
                                                                              "release.zip"]
    info = json.loads((zipped / "manifest.json").read_text())["encrypted_zip"]
    with pyzipper.AESZipFile(zipped / "release.zip") as zf:
        zf.setpassword(open(info["password_file"], "rb").read().strip())
        members = {name: zf.read(name) for name in zf.namelist()}
    assert members == {name: (plain / name).read_bytes() for name in ("t.csv", "t.parquet")}
    assert info["members"] == {name: hashlib.sha256(data).hexdigest() for name, data in members.items()}


def test_a_batch_that_fails_half_way_publishes_nothing(tmp_path):
    root = tmp_path / "rel"
    good = write_release(root, {"t": Batches(_frames())}, formats=["parquet", "csv"])
    with pytest.raises(OSError, match="disk full"):
        write_release(root, {"t": Batches(_frames(), fail_at=2)}, formats=["parquet", "csv"])
    assert sorted(p.name for p in root.iterdir()) == [good.name, "latest"]   # no temporary folder left
    assert (root / "latest").resolve() == good.resolve() and verify_release(good) == []


def test_an_unknown_format_is_refused_before_anything_is_read(tmp_path):
    table = Batches(_frames())
    with pytest.raises(ValueError, match="unknown release format 'xlsx'"):
        write_release(tmp_path / "rel", {"t": table}, formats=["csv", "xlsx"])
    assert table.passes == 0 and list((tmp_path / "rel").iterdir()) == []


# ---- formula cells found by their first byte -----------------------------------------------------------------------
_TEXT = st.one_of(st.none(), st.text(alphabet=st.sampled_from(list("=+-@\t\r a1é€\n'\"")), max_size=4))


@settings(max_examples=300, deadline=None)
@given(cells=st.lists(_TEXT, max_size=30), cut=st.integers(0, 30), large=st.booleans())
def test_the_first_byte_check_never_misses_a_formula_cell(cells, cut, large):
    kind = pa.large_string() if large else pa.string()
    # Two chunks, the second a slice (an offset into shared buffers), as batches and filters leave them.
    whole = pa.array(cells, kind)
    column = pa.chunked_array([whole.slice(0, cut), whole.slice(cut)], kind)
    for chunk in column.chunks:
        if pc.any(pc.match_substring_regex(chunk, FORMULA_START)).as_py():
            assert _may_start_formula(chunk)
    expected = [c if c is None or c[:1] not in tuple("=+-@\t\r") else "'" + c for c in cells]
    assert neutralise_formulas(column).to_pylist() == expected


def test_a_missing_cells_bytes_only_raise_a_false_alarm():
    # A null slot whose bytes start with "=": the first-byte check says "maybe", the regex settles it.
    data = pa.array(["=x", "ok"], pa.string())
    masked = pa.Array.from_buffers(pa.string(), 2, [pa.py_buffer(np.packbits([0, 1], bitorder="little")),
                                                    *data.buffers()[1:]])
    assert masked.to_pylist() == [None, "ok"] and _may_start_formula(masked)
    assert neutralise_formulas(pa.chunked_array([masked])).to_pylist() == [None, "ok"]
    assert not _may_start_formula(pa.array(["", None, "a=", "é"], pa.string()))
