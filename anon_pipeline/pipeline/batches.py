"""Reading the source as batches of rows: parquet (``pyarrow.parquet``) and CSV (``pyarrow.csv``'s streaming
reader), in the types ``read_source`` gives the whole file (CSV: every cell text, an empty cell missing), so the
streaming engine never holds more than one batch of the input.

The bounds of ``read_source`` (longest line, column count, header) are checked first, in its linear pass. A file
that pyarrow cannot parse is handed to ``read_source``, whose errors name the rule it breaks.

The Dask engine reads a CSV in line ranges (``csv_ranges``, ``read_csv_range``): one linear pass on the driver finds
where each run of ``batch_rows`` records starts, so a task parses its range alone (the header's bytes, then its
own), as the streaming engine's batch of the same rows.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from anon_pipeline.errors import InputDataError
from anon_pipeline.pipeline.source import (SourceFile, changed_error, check_csv_bounds, check_parquet_schema,
                                           check_unchanged, duplicated_names, is_url, open_source, read_source,
                                           readable, scan_lines, url_filesystem)
from anon_pipeline.policy.model import Policy, SourceSpec


def count_rows(src: SourceFile) -> int | None:
    """Rows of a parquet file from its footer; None for CSV (known only once read)."""
    if src.format != "parquet":
        return None
    try:
        with readable(src.path) as where:
            return pq.ParquetFile(where).metadata.num_rows
    except Exception:  # a broken file: read_source names what is wrong with it
        return None


def parquet_dataset(path: str | Path) -> ds.Dataset:
    """The parquet file as a dataset (the Dask engine reads its row groups by fragment), without pre-buffering:
    pre_buffer (the default) keeps every column chunk read so far, memory growing with the file."""
    fmt = ds.ParquetFileFormat(default_fragment_scan_options=ds.ParquetFragmentScanOptions(pre_buffer=False))
    if not is_url(path):
        return ds.dataset(path, format=fmt)
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    fs, inner = url_filesystem(str(path))
    return ds.dataset(inner, format=fmt, filesystem=PyFileSystem(FSSpecHandler(fs)))


def _arrow_batches(src: SourceFile, policy: Policy, rows: int, columns: list[str] | None, stack: ExitStack
                   ) -> tuple[Iterator[pa.RecordBatch], pa.Schema]:
    """The file's record batches, read one at a time as they are asked for (no read-ahead: a scanner left to
    its defaults buffered batches and column chunks ahead of a slow consumer, gigabytes at 1e7 rows). A URL's
    stream stays open in ``stack``."""
    path = check_unchanged(src)
    if src.format == "parquet":
        check_parquet_schema(path, policy.source)
        parquet = pq.ParquetFile(stack.enter_context(readable(path)), pre_buffer=False)
        schema = parquet.schema_arrow
        if columns is not None:
            schema = pa.schema([schema.field(c) for c in columns])
        return parquet.iter_batches(batch_size=min(rows, 1 << 20), columns=columns), schema
    spec = policy.source
    header = check_csv_bounds(path, policy)
    if duplicated_names(header):
        # Arrow would read a repeated name twice; the whole-file reader names it (or the raw schema does).
        table = pa.Table.from_pandas(read_source(src, policy), preserve_index=False)
        return iter(table.to_batches(max_chunksize=rows)), table.schema
    reader = _csv_reader(stack.enter_context(readable(path)), spec, header, columns)
    return iter(reader), reader.schema


def _csv_reader(where: Any, spec: SourceSpec, header: list[str], columns: list[str] | None) -> pa_csv.CSVStreamingReader:
    """pyarrow's streaming CSV reader as the engines read: every cell text, an empty cell missing."""
    return pa_csv.open_csv(
        where, read_options=pa_csv.ReadOptions(encoding=spec.encoding, block_size=1 << 24),
        parse_options=pa_csv.ParseOptions(delimiter=spec.delimiter, newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(column_types={c: pa.string() for c in header},
                                              include_columns=columns, null_values=[""],
                                              strings_can_be_null=True, quoted_strings_can_be_null=True))


def frames_of(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pd.DataFrame]:
    """Re-cut Arrow batches (sized by bytes for CSV) into frames of exactly ``rows`` rows (the last one fewer)."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        while batch.num_rows:
            take = min(rows - held, batch.num_rows)
            pending.append(batch.slice(0, take))
            batch, held = batch.slice(take), held + take
            if held == rows:
                yield pa.Table.from_batches(pending).to_pandas()
                pending, held = [], 0
    if held:
        yield pa.Table.from_batches(pending).to_pandas()


def read_batches(src: SourceFile, policy: Policy, rows: int, columns: list[str] | None = None
                 ) -> Iterator[pd.DataFrame]:
    """The source in frames of ``rows`` rows, in file order, each indexed from 0 (only ``columns`` if given)."""
    if src.n_bytes == 0:
        read_source(src, policy)  # raises: the file is empty
    try:
        yield from _frames(src, policy, rows, columns)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError, OSError) as exc:
        if isinstance(exc, OSError) and not isinstance(exc, pa.ArrowException):
            # A file replaced while it was read (an export overwritten mid-run) fails this way too: say that. (The
            # other errors reach read_source, which checks it first.)
            check_unchanged(src)
            raise
        # The whole-file reader names the rule broken (encoding, quoting, nested types ...).
        read_source(src, policy)
        # Arrow's message quotes the record; only its field counts are said (a file cut short, a stray quote).
        fields = re.search(r"Expected (\d+) columns, got (\d+)", str(exc))
        if fields:
            raise InputDataError(src.path, f"a record has {fields[2]} field(s) where the header has {fields[1]} (is "
                                 "the file cut short, or a quote left open?)", rule="csv format") from None
        raise InputDataError(src.path, f"not readable as {src.format} ({type(exc).__name__})",
                             rule=f"{src.format} format") from None


def _frames(src: SourceFile, policy: Policy, rows: int, columns: list[str] | None) -> Iterator[pd.DataFrame]:
    with ExitStack() as stack:
        try:
            batches, schema = _arrow_batches(src, policy, rows, columns, stack)
        except InputDataError:
            raise
        except Exception:  # the header or a bound: read_source says which rule, with the whole-file reader
            read_source(src, policy)
            raise
        first = True
        for frame in frames_of(batches, rows):
            first = False
            yield frame
        if first:  # a header without rows: one empty frame, so the raw schema names the problem
            yield schema.empty_table().to_pandas()


# ---- a CSV in line ranges (the Dask engine's qi tasks) -------------------------------------------------------------

@dataclass(frozen=True)
class LineRange:
    """Bytes ``[start, end)`` of a CSV: whole lines holding ``rows`` records, the first being record ``first_row``."""

    start: int
    end: int
    first_row: int
    rows: int


@dataclass(frozen=True)
class CsvRanges:
    """Where a CSV's header ends and its data lines in ranges; or, with none, why it is read as one stream."""

    header_end: int
    ranges: list[LineRange]
    reason: str | None = None


def csv_ranges(src: SourceFile, policy: Policy, rows: int) -> CsvRanges:
    """The CSV cut after every ``rows`` records, by one linear pass that also checks the file is the one the run
    recorded (its SHA-256). Cutting at a raw line break is only right when no quoted field holds one: a file with
    such a field (or another reason) gets no ranges and a reason, and is read as one stream."""
    spec = policy.source
    if src.n_bytes == 0:
        return CsvRanges(0, [], "the file is empty")
    if not _ascii_compatible(spec.encoding):
        return CsvRanges(0, [], f"encoding {spec.encoding} does not write line breaks and quotes as single bytes")
    digest = hashlib.sha256()
    with open_source(src.path) as fh:
        scan = scan_lines(fh, spec.max_line_bytes, every=rows, digest=digest)
    if not scan.complete:
        return CsvRanges(0, [], f"a line is longer than source.max_line_bytes ({spec.max_line_bytes})")
    if digest.hexdigest() != src.sha256:
        raise changed_error(src.path)
    if scan.quoted_breaks:
        return CsvRanges(0, [], f"{scan.quoted_breaks} line break(s) inside quoted fields: a range cannot start at "
                         "any raw line break")
    if scan.header_end is None or scan.header_blank or scan.records == 0:
        return CsvRanges(0, [], "no header line followed by data lines")
    with open_source(src.path) as fh:
        header = _header_names(fh.read(scan.header_end), spec)
    if duplicated_names(header):
        return CsvRanges(0, [], "the header repeats a column name")
    starts = [(scan.header_end, 0), *((at, n) for at, n in scan.cuts if n < scan.records)]
    ends = [at for at, _ in starts[1:]] + [src.n_bytes]
    counts = [n for _, n in starts[1:]] + [scan.records]
    return CsvRanges(scan.header_end, [LineRange(at, end, n, count - n)
                                       for (at, n), end, count in zip(starts, ends, counts)])


def _ascii_compatible(encoding: str) -> bool:
    encoder = codecs.getincrementalencoder(encoding)()
    encoder.encode("x")  # a byte-order mark (utf-8-sig) comes first, in the header's bytes
    return encoder.encode('\n"') == b'\n"'


def _header_names(head: bytes, spec: SourceSpec) -> list[str]:
    """The names in the header line, as ``check_csv_bounds`` reads them."""
    text = head.decode(spec.encoding, errors="replace")
    return next(csv.reader(io.StringIO(text, newline=""), delimiter=spec.delimiter), [])


class RangeMisparsed(ValueError):
    """A line range did not parse into the records the driver counted in it (a line break the byte scan took for
    a record's end was not one): the file must be read as one stream."""


def read_csv_range(src: SourceFile, policy: Policy, header_end: int, line_range: LineRange, rows: int
                   ) -> list[pd.DataFrame]:
    """The records of one line range, in frames of ``rows`` rows (one, when the range holds ``rows`` records), in
    the types ``read_batches`` gives: pyarrow reads the header's bytes and then the range's, as one stream."""
    spec = policy.source
    with open_source(src.path) as fh:
        if fh.seek(0, io.SEEK_END) != src.n_bytes:
            raise changed_error(src.path)
        fh.seek(0)
        head = fh.read(header_end)
        fh.seek(line_range.start)
        reader = _csv_reader(_Joined(head, fh, line_range.end - line_range.start), spec, _header_names(head, spec),
                             None)
        frames = list(frames_of(iter(reader), rows))
    if sum(map(len, frames)) != line_range.rows:
        raise RangeMisparsed(f"{sum(map(len, frames))} records where the scan counted {line_range.rows}")
    return frames


class _Joined(io.RawIOBase):
    """``head``, then the next ``n`` bytes of ``fh``: one stream for pyarrow."""

    def __init__(self, head: bytes, fh: IO[bytes], n: int) -> None:
        self.head, self.fh, self.left = memoryview(head), fh, n

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        out = memoryview(buffer).cast("B")
        if len(self.head):
            n = min(len(out), len(self.head))
            out[:n], self.head = self.head[:n], self.head[n:]
            return n
        data = self.fh.read(min(len(out), self.left))
        out[:len(data)] = data
        self.left -= len(data)
        return len(data)
