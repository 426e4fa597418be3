"""Finding and reading a policy's input: a CSV or parquet file, or a bundled sample generated on demand.

The raw file is only ever read. Its checksum is taken so a run can prove it did not change it, and so the
Dagster ``raw`` asset can record which file a run used without storing a copy of personal data.

Reading is linear and bounded: the source section's ``max_columns`` and ``max_line_bytes`` are checked in one
streaming pass (fixed-size chunks) before pandas loads anything, so a hostile file is refused with an
``InputDataError`` instead of exhausting memory.

The source is a local path or an fsspec URL (``s3://``, ``file://``, ``memory://`` ...: any filesystem whose package
is installed); a URL is read as a stream through ``fsspec`` (``open_source``), never copied whole into memory.
"""

from __future__ import annotations

import csv
import hashlib
import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from anon_pipeline.errors import InputDataError
from anon_pipeline.policy.model import Policy, SourceSpec
from anon_pipeline.release.writer import sha256_file
from anon_pipeline.sample import write_sample
from anon_pipeline.secrets.atomic import atomic_target
from anon_pipeline.workdir import PolicyDirs


@dataclass(frozen=True)
class SourceFile:
    path: str
    format: str
    sha256: str
    n_bytes: int
    generated: bool = False
    #: A local file's (size, modification time in ns, inode, device) before its SHA-256 was taken, when it had
    #: not been modified in the ``_SETTLED_NS`` before: while they stay the same, ``check_unchanged`` trusts the
    #: recorded hash instead of reading the whole file again (a second of hashing per pass at 1e7 rows).
    stat: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.stat is not None:  # a list after a trip through JSON (a Dagster descriptor)
            object.__setattr__(self, "stat", tuple(self.stat))

    def as_dict(self) -> dict:
        return asdict(self)


def _format_of(path: PurePosixPath | Path, declared: str) -> str:
    if declared != "auto":
        return declared
    return "parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv"


def is_url(path: str | Path) -> bool:
    """Whether ``path`` is an fsspec URL (``protocol://...``) rather than a local path."""
    return "://" in str(path)


def where(path: str) -> str | Path:
    """A recorded source path as the readers take it: a URL stays text, a local path becomes a ``Path``."""
    return path if is_url(path) else Path(path)


def url_filesystem(url: str) -> tuple[Any, str]:
    """(the fsspec filesystem of ``url``, the path inside it); a typed error when no installed package serves it."""
    try:
        from fsspec.core import url_to_fs

        return url_to_fs(url)
    except (ImportError, ValueError) as exc:  # fsspec, or the protocol's package (s3fs, gcsfs ...), is missing
        raise InputDataError(url, f"no filesystem can read this URL ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:160] if str(exc) else 'unknown protocol'})",
                             rule="source readable", hint="install fsspec and the filesystem's package (e.g. "
                             "s3fs for s3://, gcsfs for gs://), or give a local path") from None


def open_source(path: str | Path, mode: str = "rb", **kwargs: Any) -> IO:
    """The source opened for reading, as a stream: a local path, or an fsspec URL."""
    if not is_url(path):
        return Path(path).open(mode, **kwargs)
    fs, inner = url_filesystem(str(path))
    return fs.open(inner, mode, **kwargs)


def resolve_source(policy: Policy, override: str | Path | None = None, workdir: str | Path | None = None) -> SourceFile:
    """The file this run reads: ``override``, else the policy's path, else its bundled sample (generated once)."""
    spec = policy.source
    given = override if override is not None else spec.path
    if given is not None:
        declared = spec.format if override is None else "auto"
        if is_url(given):
            return _url_source(str(given), declared)
        path = Path(given)
        if not path.is_absolute():
            path = (Path.cwd() / path) if override is not None else (policy.base_dir / path)
        if path.is_dir():
            raise InputDataError(path, "is a directory, not a file", rule="source is a file")
        if not path.is_file():
            raise InputDataError(path, "file not found", rule="source exists")
        settled = _settled_stat(path)
        return SourceFile(str(path), _format_of(path, declared), _readable_sha256(path), path.stat().st_size,
                          stat=settled)
    sample = spec.sample
    assert sample is not None  # the model fills a default sample when there is no path
    path = PolicyDirs.for_policy(workdir, policy.name).samples / f"{sample.generator}_{sample.rows}_{sample.seed}.csv"
    if not path.is_file():
        # A sample stands for personal data: private whatever the umask. Streamed, so any size fits in memory.
        with atomic_target(path, mode=0o600) as tmp:
            write_sample(sample.generator, sample.rows, sample.seed, tmp, "csv")
    settled = _settled_stat(path)
    return SourceFile(str(path), "csv", sha256_file(path), path.stat().st_size, generated=True, stat=settled)


def _url_source(url: str, declared: str) -> SourceFile:
    fs, inner = url_filesystem(url)
    try:
        info = fs.info(inner)
    except FileNotFoundError:
        raise InputDataError(url, "file not found", rule="source exists") from None
    except OSError as exc:
        raise InputDataError(url, f"cannot read the file ({type(exc).__name__})", rule="source readable") from None
    if info.get("type") == "directory":
        raise InputDataError(url, "is a directory, not a file", rule="source is a file")
    return SourceFile(url, _format_of(PurePosixPath(inner), declared), _readable_sha256(url), int(info["size"]))


def _readable_sha256(path: str | Path) -> str:
    try:
        with open_source(path) as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()  # type: ignore[arg-type]  # fsspec files read
    except OSError as exc:
        raise InputDataError(path, f"cannot read the file ({exc.strerror or type(exc).__name__})",
                             rule="source readable", hint="check the file's permissions") from None


_CHUNK = 1 << 22
_NEWLINE, _QUOTE, _CR = ord("\n"), ord('"'), ord("\r")


@dataclass
class LineScan:
    """What one pass over a CSV's bytes found (``scan_lines``). A line ends at a line break outside quotes: quote
    parity (doubled quotes keep it) says which breaks lie inside a quoted field."""

    #: Length in bytes and 1-based number of the first line over the limit, else of the longest line.
    longest: int = 0
    longest_no: int = 0
    #: False when the scan stopped at a line over the limit.
    complete: bool = True
    #: Line breaks inside quoted fields.
    quoted_breaks: int = 0
    #: Where the second line starts (the first data line, the header being the first); None without one.
    header_end: int | None = None
    header_blank: bool = False
    #: Data lines (non-blank lines after the header, each a record when no field holds a line break).
    records: int = 0
    #: (byte offset where a line starts, data lines before it) after every ``every`` data lines.
    cuts: list[tuple[int, int]] = field(default_factory=list)


def scan_lines(fh: IO[bytes], limit: int, every: int = 0, digest: Any = None) -> LineScan:
    """One linear pass in fixed-size chunks: the longest line (stopping at the first over ``limit``), and, with
    ``every``, the data lines and where to cut them in runs of ``every``; ``digest`` (a hashlib object) is fed
    every byte read."""
    scan = LineScan()
    start, offset, odd_quotes, line_no, last = 0, 0, 0, 0, 0
    while chunk := fh.read(_CHUNK):
        if digest is not None:
            digest.update(chunk)
        data = np.frombuffer(chunk, dtype=np.uint8)
        parity = np.bitwise_xor.accumulate((data == _QUOTE).view(np.uint8)) ^ odd_quotes
        newline = data == _NEWLINE
        local = np.flatnonzero(newline & (parity == 0))
        scan.quoted_breaks += int(np.count_nonzero(newline)) - local.size
        if local.size:
            ends = local + offset
            lengths = np.diff(ends, prepend=start - 1) - 1
            worst = int(np.argmax(lengths))
            if lengths[worst] > scan.longest:
                scan.longest, scan.longest_no = int(lengths[worst]), line_no + worst + 1
            if every:
                _cut(scan, ends, lengths, np.where(local > 0, data[np.maximum(local - 1, 0)], last), line_no, every)
            line_no += local.size
            start = int(ends[-1]) + 1
        offset += len(chunk)
        odd_quotes, last = int(parity[-1]), int(data[-1])
        if scan.longest > limit:
            scan.complete = False
            return scan
        if offset - start > limit:   # the unfinished line is already too long
            scan.longest, scan.longest_no, scan.complete = offset - start, line_no + 1, False
            return scan
    if offset - start > scan.longest:
        scan.longest, scan.longest_no = offset - start, line_no + 1
    if line_no and offset > start and not (offset - start == 1 and last == _CR):
        scan.records += 1  # the last line, without a line break after it
    return scan


def _cut(scan: LineScan, ends: np.ndarray, lengths: np.ndarray, before: np.ndarray, line_no: int, every: int) -> None:
    """Count the data lines ending at ``ends`` and note a cut after every ``every`` of them (a blank line, empty
    or a lone carriage return, is no record: pyarrow and pandas skip it)."""
    data_line = (lengths > 0) & ~((lengths == 1) & (before == _CR))
    if line_no == 0:
        scan.header_end, scan.header_blank = int(ends[0]) + 1, not bool(data_line[0])
        data_line[0] = False
    seen = scan.records + np.cumsum(data_line)
    hits = np.flatnonzero(data_line & (seen % every == 0))
    scan.cuts.extend((int(ends[h]) + 1, int(seen[h])) for h in hits)
    scan.records = int(seen[-1])


def _longest_line(path: str | Path, limit: int) -> tuple[int, int]:
    """(length in bytes, 1-based number) of the first CSV line longer than ``limit``, else of the longest line.

    A line break inside a quoted field does not end the line (quote parity, as doubled quotes keep it), so a
    long multi-line field counts whole. Reads fixed-size chunks and stops at the first line over the limit.
    """
    with open_source(path) as fh:
        scan = scan_lines(fh, limit)
    return scan.longest, scan.longest_no


def _check_bounds(path: str | Path, spec: SourceSpec) -> None:
    length, line_no = _longest_line(path, spec.max_line_bytes)
    if length > spec.max_line_bytes:
        raise InputDataError(path, f"line {line_no} is longer than the limit of {spec.max_line_bytes} bytes "
                             f"({length} bytes or more)", rule="max_line_bytes",
                             hint="raise source.max_line_bytes in the policy if such long lines are genuine")


def _check_column_count(path: str | Path, n_columns: int, spec: SourceSpec) -> None:
    if n_columns > spec.max_columns:
        raise InputDataError(path, f"{n_columns} columns, more than the limit of {spec.max_columns}",
                             rule="max_columns", hint="raise source.max_columns in the policy if genuine")


def _read_parquet(path: str | Path, spec: SourceSpec) -> pd.DataFrame:
    check_parquet_schema(path, spec)
    try:
        with readable(path) as where_:
            return pd.read_parquet(where_)
    except Exception as exc:
        raise InputDataError(path, f"not a readable parquet file ({type(exc).__name__})",
                             rule="parquet format") from None


def check_parquet_schema(path: str | Path, spec: SourceSpec) -> None:
    """A readable parquet footer, within the column limit, every column of one value per cell."""
    try:
        with readable(path) as where_:
            schema = pq.read_schema(where_)
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise InputDataError(path, f"not a readable parquet file ({type(exc).__name__})",
                             rule="parquet format") from None
    _check_column_count(path, len(schema.names), spec)
    nested = [f for f in schema if pa.types.is_nested(f.type)]
    if nested:
        raise InputDataError(path, f"type {nested[0].type} is not supported: each cell must be one value, not a "
                             f"list, struct or map ({len(nested)} such column(s))", column=nested[0].name,
                             rule="unsupported type")


def duplicated_names(header: list[str]) -> list[str]:
    """Names the header holds more than once, sorted (linear: a 100,000-column header is checked at once)."""
    return sorted(name for name, n in Counter(header).items() if n > 1)


def _csv_header(path: str | Path, delimiter: str, encoding: str) -> list[str]:
    with open_source(path, "rt", newline="", encoding=encoding) as fh:
        return next(csv.reader(fh, delimiter=delimiter), [])


def _undecodable_cells(path: str | Path, delimiter: str, encoding: str) -> tuple[str | None, int | None]:
    """(first column holding bytes that are not ``encoding``, how many rows of it do), by re-reading as latin-1.

    latin-1 maps every byte to one character, so the file always parses and each cell can be re-encoded to its
    original bytes and tried against the declared encoding; only counts and the column name leave here.
    """
    try:
        with readable(path) as where_:
            frame = pd.read_csv(where_, sep=delimiter, encoding="latin-1", dtype="str", keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError):
        return None, None
    columns = [str(c) for c in frame.columns]
    for name, column in zip(columns, frame.columns):
        cells = frame[column].astype("str")
        redecoded = cells.str.encode("latin-1").str.decode(encoding, errors="replace")
        bad = redecoded.str.contains("\ufffd", regex=False) & ~cells.str.contains("\ufffd", regex=False)
        if bad.any():
            return name, int(bad.sum())
    bad_header = [n for n in columns if "\ufffd" in n.encode("latin-1").decode(encoding, errors="replace")]
    return ("(header)" if bad_header else None), (0 if bad_header else None)


def check_unchanged(source: SourceFile) -> str | Path:
    """The source's path, once its content is still the one the run recorded (a file replaced mid-run, e.g. an
    inbox export overwritten, would otherwise be processed as if it were the recorded one). A local file whose
    size, modification time, inode and device are those recorded (``SourceFile.stat``) is not read again; any
    other is hashed."""
    path = where(source.path)
    if source.stat is not None and not is_url(path) and _stat_of(path) == source.stat:
        return path
    if not _is_file(path) or _readable_sha256(path) != source.sha256:
        raise changed_error(path)
    return path


#: A file modified this recently when it is recorded may be written again within the same tick of the file
#: system's clock, leaving its size and modification time as they were (git's "racily clean" entries): its stat
#: is not recorded, so every check hashes it.
_SETTLED_NS = 2_000_000_000


def _stat_of(path: str | Path) -> tuple[int, ...] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev


def _settled_stat(path: Path) -> tuple[int, ...] | None:
    """``_stat_of`` the file, taken before it is hashed, unless it was modified within ``_SETTLED_NS``."""
    found = _stat_of(path)
    return found if found is not None and found[1] < time.time_ns() - _SETTLED_NS else None


def changed_error(path: str | Path) -> InputDataError:
    return InputDataError(path, "the file changed or disappeared after the run recorded it (SHA-256 differs); "
                          "run again", rule="unchanged since recorded")


def _is_file(path: str | Path) -> bool:
    if not is_url(path):
        return Path(path).is_file()
    fs, inner = url_filesystem(str(path))
    return fs.isfile(inner)


@contextmanager
def readable(path: str | Path) -> Iterator[Any]:
    """What pyarrow and pandas readers take: a local path as it is, a URL as an open fsspec stream."""
    if not is_url(path):
        yield path
        return
    with open_source(path) as fh:
        yield fh


def check_csv_bounds(path: str | Path, policy: Policy) -> list[str]:
    """The CSV's header, once the file is within the source section's bounds (line length, column count)."""
    spec = policy.source
    _check_bounds(path, spec)
    header = _csv_header(path, spec.delimiter, spec.encoding)
    _check_column_count(path, len(header), spec)
    return header


def read_source(source: SourceFile, policy: Policy) -> pd.DataFrame:
    """Read the raw table as the file holds it: CSV cells stay strings (typing is the raw schema's job).

    The file must still be the one ``source`` recorded: a file replaced mid-run (an inbox export overwritten)
    would otherwise be processed as if it were the recorded one.
    """
    path = check_unchanged(source)
    spec = policy.source
    if source.n_bytes == 0:
        raise InputDataError(path, "the file is empty (no header, no rows)", rule="not empty", n_rows=0)
    if source.format == "parquet":
        return _read_parquet(path, spec)
    with open_source(path) as fh:
        if fh.read(4) == b"PAR1":
            raise InputDataError(path, "is a parquet file (it starts with PAR1), read as CSV because of its name",
                                 rule="csv format", hint="name it .parquet, or set source.format: parquet")
    _check_bounds(path, spec)
    try:
        header = _csv_header(path, spec.delimiter, spec.encoding)
        _check_column_count(path, len(header), spec)
        with readable(path) as where_:
            frame = pd.read_csv(where_, sep=spec.delimiter, encoding=spec.encoding, dtype="str",
                                keep_default_na=False, na_values=[""], skipinitialspace=False)
    except UnicodeDecodeError:
        column, n_rows = _undecodable_cells(path, spec.delimiter, spec.encoding)
        raise InputDataError(path, f"bytes that are not valid {spec.encoding}", column=column,
                             rule=f"encoding {spec.encoding}", n_rows=n_rows,
                             hint="set source.encoding in the policy (e.g. cp1252 or latin-1)") from None
    except pd.errors.EmptyDataError:
        raise InputDataError(path, "the file has no header", rule="not empty", n_rows=0) from None
    except csv.Error:
        raise InputDataError(path, f"the header is not parseable as CSV with delimiter {spec.delimiter!r}",
                             rule="csv format") from None
    except pd.errors.ParserError as exc:
        raise InputDataError(path, f"not parseable as CSV with delimiter {spec.delimiter!r} "
                             f"({str(exc).splitlines()[0][:120]})", rule="csv format") from None
    duplicated = duplicated_names(header)
    # Names are only echoed when the header is one (it shares a name with the policy): a file without its
    # header row would have data here, and the raw schema reports that case without showing it.
    if duplicated and set(header) & set(policy.columns):
        raise InputDataError(path, f"the header repeats column name(s) {duplicated}", column=duplicated[0],
                             rule="unique column names")
    return frame
