"""Registry of bundled, seeded sample-data generators that a policy's ``source.sample`` can name."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import import_module
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from anon_pipeline.errors import AnonPipelineError

Generator = Callable[[int, int], pd.DataFrame]   # (rows, seed) -> table
Batches = Callable[[int, int], Iterator[pa.Table]]   # (rows, seed) -> the same table in blocks

_GENERATORS: dict[str, Generator] = {}
_BATCHES: dict[str, Batches] = {}
_BUILTIN_MODULES = ("anon_pipeline.sample.insurance", "anon_pipeline.sample.flights")


class SampleSizeError(AnonPipelineError, ValueError):
    """A generator was asked for a number of rows it cannot make (negative, or more than its unique identifiers
    allow); raised before anything is written."""

    def __init__(self, generator: str, rows: int, reason: str) -> None:
        super().__init__(f"sample '{generator}': cannot make {rows} rows: {reason}")


def check_rows(generator: str, rows: int, most: int | None = None) -> None:
    if rows < 0:
        raise SampleSizeError(generator, rows, "the number of rows must be 0 or more")
    if most is not None and rows > most:
        raise SampleSizeError(generator, rows, f"at most {most} rows have distinct identifiers")


def register_generator(name: str, *, batches: Batches | None = None) -> Callable[[Generator], Generator]:
    """``batches``, when given, yields the generator's table in blocks, so large samples stream to a file."""
    def decorate(fn: Generator) -> Generator:
        _GENERATORS[name] = fn
        if batches is not None:
            _BATCHES[name] = batches
        return fn
    return decorate


def get_generator(name: str) -> Generator:
    for module in _BUILTIN_MODULES:
        try:
            import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    try:
        return _GENERATORS[name]
    except KeyError:
        raise KeyError(f"unknown sample generator '{name}'; known: {', '.join(sorted(_GENERATORS))}") from None


def generate(name: str, rows: int, seed: int) -> pd.DataFrame:
    generator = get_generator(name)
    check_rows(name, rows)
    return generator(rows, seed)


def batches(name: str, rows: int, seed: int) -> Iterator[pa.Table]:
    """The sample in blocks; a generator that registered no ``batches`` yields its whole table as one."""
    generator = get_generator(name)
    check_rows(name, rows)
    if name in _BATCHES:
        yield from _BATCHES[name](rows, seed)
    else:
        yield pa.Table.from_pandas(generator(rows, seed), preserve_index=False)


def sample_format(path: str | Path) -> str:
    return "parquet" if str(path).lower().endswith((".parquet", ".pq")) else "csv"


def write_sample(name: str, rows: int, seed: int, path: str | Path, fmt: str | None = None) -> int:
    """Write the sample to ``path`` (``fmt`` "parquet" or "csv"; by default parquet for .parquet/.pq, else CSV)
    block by block, so memory stays bounded whatever ``rows`` is; returns the number of rows written. The file is
    the one-shot table's. Not atomic by itself: callers that publish the file write to an ``atomic_target``."""
    parquet = (fmt or sample_format(path)) == "parquet"
    written = 0
    writer: pq.ParquetWriter | None = None
    try:
        for block in batches(name, rows, seed):
            if parquet:
                writer = writer or pq.ParquetWriter(path, block.schema)
                writer.write_table(block)
            else:
                block.to_pandas().to_csv(path, index=False, mode="a" if written else "w", header=not written)
            written += block.num_rows
    finally:
        if writer is not None:
            writer.close()
    return written
