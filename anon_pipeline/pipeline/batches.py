"""Reading the source as batches of rows: parquet (``pyarrow.parquet``) and CSV (``pyarrow.csv``'s streaming
reader), in the types ``read_source`` gives the whole file (CSV: every cell text, an empty cell missing), so the
streaming engine never holds more than one batch of the input.

The bounds of ``read_source`` (longest line, column count, header) are checked first, in its linear pass. A file
that pyarrow cannot parse is handed to ``read_source``, whose errors name the rule it breaks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from anon_pipeline.errors import InputDataError
from anon_pipeline.pipeline.source import (SourceFile, check_csv_bounds, check_parquet_schema, check_unchanged,
                                           duplicated_names, read_source)
from anon_pipeline.policy.model import Policy


def count_rows(src: SourceFile) -> int | None:
    """Rows of a parquet file from its footer; None for CSV (known only once read)."""
    if src.format != "parquet":
        return None
    try:
        return pq.ParquetFile(src.path).metadata.num_rows
    except Exception:  # a broken file: read_source names what is wrong with it
        return None


def parquet_dataset(path: str | Path) -> ds.Dataset:
    """The parquet file as a dataset (the Dask engine reads its row groups by fragment), without pre-buffering:
    pre_buffer (the default) keeps every column chunk read so far, memory growing with the file."""
    fmt = ds.ParquetFileFormat(default_fragment_scan_options=ds.ParquetFragmentScanOptions(pre_buffer=False))
    return ds.dataset(path, format=fmt)


def _arrow_batches(src: SourceFile, policy: Policy, rows: int, columns: list[str] | None
                   ) -> tuple[Iterator[pa.RecordBatch], pa.Schema]:
    """The file's record batches, read one at a time as they are asked for (no read-ahead: a scanner left to
    its defaults buffered batches and column chunks ahead of a slow consumer, gigabytes at 1e7 rows)."""
    path = check_unchanged(src)
    if src.format == "parquet":
        check_parquet_schema(path, policy.source)
        parquet = pq.ParquetFile(path, pre_buffer=False)
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
    reader = pa_csv.open_csv(
        path, read_options=pa_csv.ReadOptions(encoding=spec.encoding, block_size=1 << 24),
        parse_options=pa_csv.ParseOptions(delimiter=spec.delimiter, newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(column_types={c: pa.string() for c in header},
                                              include_columns=columns, null_values=[""],
                                              strings_can_be_null=True, quoted_strings_can_be_null=True))
    return iter(reader), reader.schema


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
        try:
            batches, schema = _arrow_batches(src, policy, rows, columns)
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
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError, OSError) as exc:
        if isinstance(exc, OSError) and not isinstance(exc, pa.ArrowException):
            raise
        # The whole-file reader names the rule broken (encoding, quoting, nested types ...).
        read_source(src, policy)
        raise InputDataError(src.path, f"not readable as {src.format} ({type(exc).__name__})",
                             rule=f"{src.format} format") from None
