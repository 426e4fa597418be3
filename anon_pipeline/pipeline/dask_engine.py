"""The Dask engine (``engine: dask``): the streaming engine's two passes as tasks on a ``dask.distributed`` cluster.

The same per-batch code runs in the tasks (``validate_raw``, ``qi_batch``, ``StagedTable.write_buckets``, the value
counts); tasks write their parts into the run's staging folder, which the workers share, and send back only
aggregates: row counts, part names' buckets, value counts, the names of broken rules. The fit runs on the driver
(``fit_streaming`` on those aggregates); the apply pass is one task per GUID bucket. Rows never travel through the
scheduler.

- qi pass: a parquet source is split by row groups (one task per run of row groups of at least ``batch_rows``
  rows); a CSV source by line ranges of ``batch_rows`` records (``batches.csv_ranges``: one linear pass on the
  driver, which also checks the file's SHA-256), each task parsing its range alone. A CSV whose quoted fields hold
  line breaks cannot be cut at raw line breaks: it is one task, and the qi table's metadata says why
  (``qi_split_reason``); so is a file whose ranges do not parse into the records the scan counted.
- the source is a path or an fsspec URL the workers can read (not ``memory://``, which lives in one process).
- rules across the whole file (``unique`` columns, repeated rows): each task stages its 64-bit row hashes
  (sealed, bucketed by hash), and one task per hash bucket looks for repeats.
- a broken rule (a task's batch, or a repeat across tasks): the driver runs the streaming engine's validation
  (``typed_batches``) over the file, so the error is the streaming engine's, counts and all.
- a retried task (a worker lost mid-run) first removes the parts an earlier attempt of it left, then writes its
  own: the staged tables hold each source row once, and nothing is released unless the run ends.

Policies ``engine_blockers`` names (they need the whole table at once) are refused with ``PolicyError``: running
them in memory on the driver would hide that the cluster does none of the work.

Workers need the project installed, the staging folder at the same path, and the same encryption key
(``ANON_PIPELINE_KEY`` or ``ANON_PIPELINE_KEY_FILE``). ``dask`` is imported only here, when the engine is used.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import numpy as np
import pandas as pd
import pyarrow as pa

from anon_pipeline.errors import AnonPipelineError, InputDataError, PolicyError, RunEnvironmentError
from anon_pipeline.pipeline.anonymise import Anonymised, replay
from anon_pipeline.pipeline.batches import (LineRange, RangeMisparsed, csv_ranges, frames_of, parquet_dataset,
                                            read_batches, read_csv_range)
from anon_pipeline.pipeline.qi_table import qi_batch
from anon_pipeline.pipeline.raw_schema import validate_raw
from anon_pipeline.pipeline.source import SourceFile, check_unchanged, is_url, readable, url_filesystem
from anon_pipeline.pipeline.staged import StagedTable
from anon_pipeline.pipeline.stream import (Aggregates, apply_streaming, bucket_group_counts, bucket_group_moments,
                                           engine_blockers, fit_streaming, merged_group_counts, merged_moments,
                                           n_buckets, typed_batches)
from anon_pipeline.policy.model import Policy
from anon_pipeline.stats.hashing import hash_rows, hash_values

ENGINES = ("streaming", "dask")


def check_engine(engine: str, policy: Policy) -> None:
    """Refuse an unknown engine, or ``dask`` for a policy that needs the whole table at once (the reasons named)."""
    if engine not in ENGINES:
        raise PolicyError(policy.path, f"unknown engine '{engine}' (one of: {', '.join(ENGINES)})", field="engine")
    blockers = engine_blockers(policy) if engine == "dask" else []
    if blockers:
        raise PolicyError(policy.path, "engine 'dask' runs only policies whose fit and apply stream; this one "
                          "needs the whole table at once: " + "; ".join(blockers)
                          + " (run it with the streaming engine)", field="engine")


@contextmanager
def connect(address: str | None = None, n_workers: int | None = None) -> Iterator[Any]:
    """A ``distributed.Client``: to ``address``, else Dask's configured scheduler (``DASK_SCHEDULER_ADDRESS``,
    ``scheduler-address`` in dask.config), else a ``LocalCluster`` of worker processes, closed afterwards."""
    import dask
    from distributed import Client, LocalCluster

    address = address or dask.config.get("scheduler-address", None)
    if address:
        try:
            client = Client(address)
        except ValueError:   # no scheme Dask knows ("nonsense", "htp://...")
            raise AnonPipelineError(f"scheduler '{address}' is not a Dask scheduler address (e.g. "
                                    "tcp://host:8786)") from None
        except (OSError, TimeoutError) as exc:
            raise RunEnvironmentError(f"no Dask scheduler answered at {address} ({type(exc).__name__})",
                                      advice="start the scheduler, or check the address and the network, then "
                                      "run again") from None
        with client:
            yield client
        return
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        yield client


@contextmanager
def run_client(run: Any) -> Iterator[Any]:
    """The run's client (``run_policy`` opens one for the whole run), else one for this stage alone (Dagster)."""
    if run.client is not None:
        run.workers = n_workers(run.client)
        yield run.client
        return
    with connect(run.scheduler) as client:
        run.workers = n_workers(client)
        yield client


class Passes:
    """The passes of a run on its cluster (what ``graph`` calls, as it calls the streaming engine's)."""

    def __init__(self, run: Any) -> None:
        self.run = run

    # ``watch`` (what the streaming engine's passes show each written batch) is not called: the tasks write the
    # parts on the workers, and whatever needs the tables' counts or checks reads them afterwards.
    def qi_table(self, src: SourceFile, policy: Policy, staging: Path, rows_per_batch: int, watch: Any = None
                 ) -> tuple[StagedTable, StagedTable | None]:
        with run_client(self.run) as client:
            qi, contract, self.run.partitioning = qi_pass(client, src, policy, staging, rows_per_batch)
            return qi, contract

    def fit(self, qi: StagedTable, policy: Policy) -> Anonymised:
        with run_client(self.run) as client:
            return fit(client, qi, policy)

    def apply(self, qi: StagedTable, policy: Policy, fitted: Anonymised, staging: Path, watch: Any = None
              ) -> tuple[StagedTable, StagedTable | None]:
        with run_client(self.run) as client:
            return apply(client, qi, policy, fitted, staging)


def n_workers(client: Any) -> int:
    return len(client.scheduler_info().get("workers", {}))


# ---- the qi pass -------------------------------------------------------------------------------------------------

@dataclass
class _Split:
    """One qi task: its row groups or CSV line range (neither: the whole file), first source row and part number."""

    row_groups: list[int] | None
    first_row: int
    first_part: int
    n_parts: int
    line_range: LineRange | None = None
    #: Where the CSV's header line ends (a line range is read after the header's bytes).
    header_end: int = 0


_WHOLE = _Split(None, 0, 0, 10**6 - 1)


def _splits(src: SourceFile, policy: Policy, rows_per_batch: int) -> tuple[list[_Split], dict[str, Any]]:
    """The qi tasks, and how the source was split (the qi table's metadata)."""
    if src.format != "parquet":
        found = csv_ranges(src, policy, rows_per_batch)
        if not found.ranges:
            return [_WHOLE], _split_meta(1, "whole file", found.reason)
        return [_Split(None, r.first_row, i, 1, r, found.header_end) for i, r in enumerate(found.ranges)], \
            _split_meta(len(found.ranges), "csv line ranges")
    check_unchanged(src)
    splits = _parquet_splits(src, rows_per_batch)
    return splits, _split_meta(len(splits), "parquet row groups" if splits[0].row_groups is not None
                               else "whole file", None if splits[0].row_groups is not None else "unreadable footer")


def _split_meta(tasks: int, split: str, reason: str | None = None) -> dict[str, Any]:
    return {"qi_tasks": tasks, "qi_split": split, **({"qi_split_reason": reason} if reason else {})}


def _parquet_splits(src: SourceFile, rows_per_batch: int) -> list[_Split]:
    import pyarrow.parquet as pq

    try:
        with readable(src.path) as where:
            meta = pq.ParquetFile(where).metadata
    except Exception:  # a broken file: one task reads it as the streaming engine does, whose error names the rule
        return [_Split(None, 0, 0, 1)]
    splits, groups, rows, first_row, first_part = [], [], 0, 0, 0
    for i in range(meta.num_row_groups):
        groups.append(i)
        rows += meta.row_group(i).num_rows
        if rows >= rows_per_batch or i == meta.num_row_groups - 1:
            parts = max(1, math.ceil(rows / rows_per_batch))
            splits.append(_Split(groups, first_row, first_part, parts))
            groups, first_row, first_part, rows = [], first_row + rows, first_part + parts, 0
    return splits or [_Split(None, 0, 0, 1)]


def _read_split(src: SourceFile, policy: Policy, split: _Split, rows_per_batch: int) -> Iterator[pd.DataFrame]:
    if split.line_range is not None:
        yield from read_csv_range(src, policy, split.header_end, split.line_range, rows_per_batch)
        return
    if split.row_groups is None:
        yield from read_batches(src, policy, rows_per_batch)
        return
    fragment = next(iter(parquet_dataset(src.path).get_fragments())).subset(row_group_ids=split.row_groups)
    yield from frames_of(fragment.to_batches(batch_size=min(rows_per_batch, 1 << 20), batch_readahead=0,
                                           fragment_readahead=0), rows_per_batch)


@overload
def _blank(table: StagedTable, parts: range | None = None) -> StagedTable: ...
@overload
def _blank(table: None, parts: range | None = None) -> None: ...
def _blank(table: StagedTable | None, parts: range | None = None) -> StagedTable | None:
    """The task's own descriptor of ``table`` (it counts only what the task writes), after removing the parts
    ``parts`` an earlier attempt of the task wrote (its GUIDs, hence buckets, were other ones)."""
    if table is None:
        return None
    for path in Path(table.folder).glob("b*-p*.arrow*") if parts is not None else ():
        if parts is not None and int(path.name[9:15]) in parts:
            path.unlink(missing_ok=True)
    return StagedTable(table.folder, table.name, table.n_buckets, bucket_rows=[0] * table.n_buckets)


def _qi_task(src: SourceFile, policy: Policy, split: _Split, rows_per_batch: int, qi: StagedTable,
             contract: StagedTable | None, hashes: StagedTable) -> dict[str, Any]:
    """One split of the source through the streaming engine's per-batch code. Returns aggregates only."""
    # A marker per task: only a retried attempt (a worker lost) lists the folders to remove what the lost one wrote.
    marker = Path(qi.folder) / f"started-{split.first_part:06d}"
    parts = range(split.first_part, split.first_part + split.n_parts) if marker.exists() else None
    marker.touch()
    qi, contract, hashes = _blank(qi, parts), _blank(contract, parts), _blank(hashes, parts)
    aggregates, hashed = Aggregates(policy), _Hashes(policy)
    part, first_row = split.first_part, split.first_row
    try:
        for batch in _read_split(src, policy, split, rows_per_batch):
            typed = validate_raw(batch, policy, src.path)
            hashed.add(typed)
            table, lead, links = qi_batch(typed, policy, first_row)
            aggregates.add(table)
            qi.write_buckets(table, lead, part)
            if contract is not None:
                contract.write_part(links, 0, part)
            first_row, part = first_row + len(typed), part + 1
    except InputDataError as exc:  # not picklable as raised: its fields (counts and names only) go back
        return {"invalid": {"column": exc.column, "rule": exc.rule, "n_rows": exc.n_rows}}
    except (pa.ArrowException, UnicodeDecodeError):  # a part pyarrow cannot read: the driver's reader names the rule
        return {"invalid": {"column": None, "rule": f"{src.format} format", "n_rows": None}}
    except RangeMisparsed:  # nothing written: the driver reads the file as one stream instead
        return {"misparsed": True}
    found = [pd.DataFrame({"rule": np.full(sum(map(len, values)), rule, np.int16),
                           "h": np.concatenate(values).astype(np.uint64)})
             for rule, values in enumerate(hashed.hashes) if values]
    if found:
        frame = pd.concat(found, ignore_index=True)
        hashes.write_buckets(frame, (frame["h"].to_numpy() >> np.uint64(32)).astype(np.uint32), split.first_part)
    return {"tables": [_filled(t) for t in (qi, contract, hashes)], "aggregates": aggregates}


class _Hashes:
    """64-bit hashes of the values of ``unique`` columns and of whole rows, to find repeats across tasks. They only
    flag a file: the error (or that there is none) is the streaming validation's (``_streaming_error``)."""

    def __init__(self, policy: Policy) -> None:
        self.unique = [c for c, spec in policy.columns.items() if spec.unique]
        self.rows = policy.source.duplicate_rows == "error"
        self.hashes: list[list[np.ndarray]] = [[] for _ in range(len(self.unique) + self.rows)]

    def add(self, frame: pd.DataFrame) -> None:
        for i, c in enumerate(self.unique):
            self.hashes[i].append(hash_values(frame[c]))
        if self.rows:
            self.hashes[-1].append(hash_rows(frame))


def _streaming_error(src: SourceFile, policy: Policy, rows_per_batch: int) -> InputDataError | None:
    """The error the streaming engine raises on this file (one validation pass on the driver, taken only when a
    task found a problem), or None when it finds none: the same error by construction, whatever its rules."""
    try:
        for _ in typed_batches(src, policy, rows_per_batch):
            pass
    except InputDataError as exc:
        return exc
    return None


def _filled(table: StagedTable | None) -> tuple[int, list[int], list[str]] | None:
    return None if table is None else (table.rows, table.bucket_rows, table.columns)


def _add(table: StagedTable | None, filled: tuple[int, list[int], list[str]] | None) -> None:
    """Count on the driver what a task wrote into ``table``."""
    if table is None or filled is None:
        return
    rows, bucket_rows, columns = filled
    table.rows += rows
    table.bucket_rows = [a + b for a, b in zip(table.bucket_rows, bucket_rows)]
    table.columns = table.columns or columns


def _repeats_task(hashes: StagedTable, bucket: int) -> bool:
    """Whether a value of a ``unique`` column, or a whole row, repeats in one hash bucket (so in the file)."""
    frame = hashes.bucket(bucket, sort_by=None)
    return frame is not None and bool(frame.duplicated(["rule", "h"]).any())


class _Unsplittable(Exception):
    """The line ranges did not parse as the byte scan predicted: the qi pass runs again as one task."""


def qi_pass(client: Any, src: SourceFile, policy: Policy, staging: Path, rows_per_batch: int
            ) -> tuple[StagedTable, StagedTable | None, dict[str, Any]]:
    """``stream_qi_table`` on the cluster: the same staged tables and value counts, and how the source was split
    (``qi_tasks``, ``qi_split``, ``qi_split_reason``)."""
    check_engine("dask", policy)
    _check_shared(src)
    # Once, on the driver (for a CSV in the pass that cuts it): the tasks read the file recorded by the raw stage.
    splits, split = _splits(src, policy, rows_per_batch)
    try:
        return (*_qi_tasks(client, src, policy, staging, rows_per_batch, splits), split)
    except _Unsplittable as exc:
        return (*_qi_tasks(client, src, policy, staging, rows_per_batch, [_WHOLE]),
                _split_meta(1, "whole file", str(exc)))


def _check_shared(src: SourceFile) -> None:
    """Refuse a source the workers cannot reach: a ``memory://`` file lives in this process only."""
    if is_url(src.path) and "memory" in url_filesystem(src.path)[0].protocol:
        raise InputDataError(src.path, "a memory:// file lives in this process's memory; the Dask workers are "
                             "other processes and cannot read it", rule="source readable by the workers",
                             hint="put the file where every worker can read it: a shared path, a file:// URL or an "
                             "object store such as s3://")


def _qi_tasks(client: Any, src: SourceFile, policy: Policy, staging: Path, rows_per_batch: int, splits: list[_Split]
              ) -> tuple[StagedTable, StagedTable | None]:
    buckets = n_buckets(src, rows_per_batch)
    qi = StagedTable.create(staging, "qi_table", buckets)
    contract = StagedTable.create(staging, "contract", 1) if policy.release.contract else None
    hashes = StagedTable.create(staging, "row_hashes", buckets)
    ranged = splits[0].line_range is not None
    try:
        results = client.gather([client.submit(_qi_task, src, policy, split, rows_per_batch, qi, contract, hashes,
                                               pure=False) for split in splits])
        if any("misparsed" in r for r in results):
            raise _Unsplittable("a line range did not parse into the records the scan counted in it (a line break "
                                "inside a field the quote scan did not see)")
        invalid = next((r["invalid"] for r in results if "invalid" in r), None)
        if invalid is not None:
            error = _streaming_error(src, policy, rows_per_batch)
            if error is None and ranged:
                raise _Unsplittable("a line range did not parse on its own, the whole file does")
            raise error or InputDataError(src.path, "broken in one partition", **invalid)
        aggregates = Aggregates(policy)
        for result in results:
            for table, filled in zip((qi, contract, hashes), result["tables"]):
                _add(table, filled)
            aggregates.merge(result["aggregates"])
        repeats = any(client.gather([client.submit(_repeats_task, hashes, b, pure=False)
                                     for b in range(hashes.n_buckets)]))
        error = _streaming_error(src, policy, rows_per_batch) if repeats else None
        if error is not None:
            raise error
        aggregates.write(qi, policy)
    except BaseException:
        for table in (qi, contract):
            if table is not None:
                table.remove()
        raise
    finally:
        hashes.remove()
    return qi, contract


# ---- fit and apply -----------------------------------------------------------------------------------------------

def _group_task(qi: StagedTable, bucket: int, policy: Policy, plan: dict[str, Any], columns: list[str],
                moments: bool = False):
    frame = qi.bucket(bucket)
    if frame is None:
        return None
    return (bucket_group_moments if moments else bucket_group_counts)(frame, policy, plan, columns)


def fit(client: Any, qi: StagedTable, policy: Policy) -> Anonymised:
    """``fit_streaming`` on the driver, the group pass (if any) one task per bucket."""
    def group_pass(qi: StagedTable, policy: Policy, plan: dict[str, Any], columns: list[str], moments: bool):
        return client.gather([client.submit(_group_task, qi, b, policy, plan, columns, moments, pure=False)
                              for b in range(qi.n_buckets) if qi.bucket_rows[b]])

    def group_counts(qi: StagedTable, policy: Policy, plan: dict[str, Any], columns: list[str]):
        return merged_group_counts([f for f in group_pass(qi, policy, plan, columns, False) if f is not None],
                                   columns)

    def group_moments(qi: StagedTable, policy: Policy, plan: dict[str, Any], columns: list[str]):
        return merged_moments(group_pass(qi, policy, plan, columns, True))
    return fit_streaming(qi, policy, group_counts, group_moments)


def _apply_task(qi: StagedTable, bucket: int, policy: Policy, plan: dict[str, Any], anonymised: StagedTable,
                before_group_steps: StagedTable | None) -> list:
    frame = qi.bucket(bucket)
    anonymised, before_group_steps = _blank(anonymised), _blank(before_group_steps)
    if frame is not None:
        result = replay(frame, policy, plan)
        anonymised.write_part(result.table, bucket, 0)
        if before_group_steps is not None and result.before_group_steps is not None:
            before_group_steps.write_part(result.before_group_steps, bucket, 0)
    return [_filled(anonymised), _filled(before_group_steps)]


def apply(client: Any, qi: StagedTable, policy: Policy, fitted: Anonymised, staging: Path
          ) -> tuple[StagedTable, StagedTable | None]:
    """``apply_streaming`` on the cluster: one task per GUID bucket, each writing its anonymised part."""
    if qi.rows == 0:  # nothing to spread; the driver gives the empty table its columns
        return apply_streaming(qi, policy, fitted, staging)
    anonymised = StagedTable.create(staging, "anonymised", qi.n_buckets)
    before_group_steps = StagedTable.create(staging, "before_group_steps", qi.n_buckets) if policy.groups else None
    try:
        found = client.gather([client.submit(_apply_task, qi, b, policy, fitted.plan, anonymised, before_group_steps,
                                             pure=False) for b in range(qi.n_buckets) if qi.bucket_rows[b]])
        for filled in found:
            _add(anonymised, filled[0])
            _add(before_group_steps, filled[1])
    except BaseException:
        for table in (anonymised, before_group_steps):
            if table is not None:
                table.remove()
        raise
    return anonymised, before_group_steps
