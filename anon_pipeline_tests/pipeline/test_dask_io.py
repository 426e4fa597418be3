"""The Dask engine's inputs (issue 10): a CSV read in line ranges by several tasks gives the streaming engine's
release; a CSV whose quoted fields hold line breaks (or whose ranges do not parse alone) is read by one task, saying
why; the source may be an fsspec URL (``memory://`` in this process, ``file://`` on the cluster)."""

from __future__ import annotations

import csv
import uuid
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("distributed")  # in the test extra; the skip names the missing package elsewhere
fsspec = pytest.importorskip("fsspec")

from distributed import Client, LocalCluster, get_task_stream  # noqa: E402

from anon_pipeline import run_policy  # noqa: E402
from anon_pipeline.errors import InputDataError  # noqa: E402
from anon_pipeline.pipeline import source as source_module  # noqa: E402
from anon_pipeline.pipeline.batches import csv_ranges, read_batches, read_csv_range  # noqa: E402
from anon_pipeline.pipeline.dask_engine import Passes  # noqa: E402
from anon_pipeline.pipeline.graph import Run  # noqa: E402
from anon_pipeline.pipeline.source import resolve_source  # noqa: E402
from anon_pipeline.policy import Policy, load_policy  # noqa: E402
from anon_pipeline.sample import generate  # noqa: E402
from anon_pipeline_tests.pipeline.test_dask_engine import _profile  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
INSURANCE = ROOT / "policies" / "insurance_customers.yaml"
K5 = ROOT / "policies" / "insurance_customers_k5.yaml"


@pytest.fixture(scope="module")
def scheduler():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def _qi_tasks(scheduler: str, **kwargs):
    """``run_policy`` on the cluster, and how many qi tasks the cluster ran for it."""
    with Client(scheduler) as client, get_task_stream(client) as stream:
        result = run_policy(engine="dask", scheduler=scheduler, **kwargs)
    return result, sum(1 for task in stream.data if str(task["key"]).startswith("_qi_task"))


def _same_release_in_tasks(source: str | Path, workdir: Path, scheduler: str, batch_rows: int, policy=INSURANCE):
    """The streaming release and the Dask one for one fitted plan; returns the qi tasks the cluster ran."""
    fitted = run_policy(policy, source=source, workdir=workdir, batch_rows=batch_rows)
    assert fitted.released
    streamed = run_policy(policy, source=source, workdir=workdir, plan=fitted.plan_id, batch_rows=batch_rows)
    dasked, tasks = _qi_tasks(scheduler, policy_path=policy, source=source, workdir=workdir, plan=fitted.plan_id,
                              batch_rows=batch_rows)
    assert dasked.released and dasked.plan_reused
    assert _profile(dasked) == _profile(streamed)
    assert dasked.anonymity["K"] == streamed.anonymity["K"]
    assert dasked.checks == streamed.checks and not dasked.failed_checks
    assert dasked.anonymity["targets"] == streamed.anonymity["targets"]
    return streamed, dasked, tasks


def test_the_shared_insurance_csv_in_line_ranges(insurance_csv, tmp_path, scheduler):
    """Ranges of 97 records: 11 tasks for 1,000 rows, the streaming engine's release."""
    streamed, dasked, tasks = _same_release_in_tasks(insurance_csv, tmp_path, scheduler, batch_rows=97)
    assert tasks == 11
    assert dasked.anonymity["K"] == 15 and len(dasked.anonymised) == len(streamed.anonymised)


def test_a_bundled_policy_sample_csv_in_line_ranges(tmp_path, scheduler):
    """insurance_customers_k5 on its bundled sample (a CSV written by the run), with a group (the lattice search)."""
    streamed, dasked, tasks = _same_release_in_tasks(None, tmp_path, scheduler, batch_rows=150, policy=K5)
    assert tasks == 7  # 1,000 rows in ranges of 150
    assert dasked.anonymity["K"] >= 5


def _qi_split(scheduler: str, policy_path: Path | Policy, source: str | Path, tmp_path: Path, batch_rows: int) -> dict:
    """The qi table's metadata on how the Dask engine split ``source``."""
    policy = policy_path if isinstance(policy_path, Policy) else load_policy(policy_path)
    run = Run(policy, workdir=tmp_path, engine="dask", scheduler=scheduler, staging=tmp_path / "staging")
    run.staging.mkdir(exist_ok=True)
    qi, contract = Passes(run).qi_table(resolve_source(policy, source), policy, run.staging, batch_rows)
    assert qi.rows > 0
    return run.partitioning


def _customers(n: int = 600, seed: int = 3) -> pd.DataFrame:
    return generate("insurance_customers", n, seed)


def test_quoted_line_breaks_are_read_by_one_task_that_says_why(tmp_path, scheduler):
    frame = _customers()
    frame.loc[150, "given_name"] = "Anna\nMaria"  # an identifier: any text is valid, and it is never released
    source = tmp_path / "quoted.csv"
    frame.to_csv(source, index=False)
    split = _qi_split(scheduler, INSURANCE, source, tmp_path, 50)
    assert split["qi_tasks"] == 1 and split["qi_split"] == "whole file"
    assert split["qi_split_reason"].startswith("1 line break(s) inside quoted fields")
    streamed, dasked, tasks = _same_release_in_tasks(source, tmp_path / "run", scheduler, batch_rows=50)
    assert tasks == 1 and len(dasked.anonymised) == len(frame)


@pytest.mark.parametrize("row", [149, 150])
def test_ranges_that_do_not_parse_alone_fall_back_to_one_task(tmp_path, scheduler, row):
    """Quotes in unquoted fields on both sides of a quoted line break keep the quote parity even at that break: the
    scan takes it for a record's end; the range's record count (or its parse) shows it was not, and one task reads
    the file. Row 149 puts a range's cut inside the record (ranges of 50 rows), row 150 inside a range."""
    frame = _customers()
    source = tmp_path / "stray.csv"
    lines = frame.to_csv(index=False).split("\n")
    # Written by hand: pandas would quote the stray quotes. The surname: a quoted field holding a line break.
    cells = [_quoted(c) for c in next(csv.reader([lines[row + 1]]))]
    cells[0], cells[1], cells[frame.columns.get_loc("phone_number")] = 'Ann"', '"Lee\nSmith"', '07"700 900123'
    lines[row + 1] = ",".join(cells)
    source.write_text("\n".join(lines))
    policy = _free_phone_numbers()
    src = resolve_source(policy, source)
    found = csv_ranges(src, policy, 50)
    assert found.reason is None and len(found.ranges) > 1  # the scan sees no quoted line break
    whole = pd.concat(list(read_batches(src, policy, 50)), ignore_index=True)
    assert len(whole) == len(frame) and whole.loc[row, "surname"] == "Lee\nSmith"
    split = _qi_split(scheduler, policy, source, tmp_path, 50)
    assert split["qi_tasks"] == 1 and "did not parse" in split["qi_split_reason"]
    streamed, dasked, tasks = _same_release_in_tasks(source, tmp_path / "run", scheduler, batch_rows=50, policy=policy)
    assert len(dasked.anonymised) == len(frame)


def _free_phone_numbers() -> Policy:
    """The insurance policy without the phone number's pattern (so a quote in one is valid)."""
    policy = load_policy(INSURANCE)
    columns = {**policy.columns, "phone_number": policy.columns["phone_number"].model_copy(update={"pattern": None})}
    return policy.model_copy(update={"columns": columns})


def _quoted(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"' if any(c in cell for c in ',"\n') else cell


def _encoded(encoding: str) -> Policy:
    policy = load_policy(INSURANCE)
    return policy.model_copy(update={"source": policy.source.model_copy(update={"encoding": encoding})})


@pytest.mark.parametrize(("chunk", "encoding"), [(5, "utf-8"), (64, "utf-8-sig"), (1 << 22, "utf-8"),
                                                 (1 << 22, "cp1252")])
def test_line_ranges_read_what_the_stream_reads(tmp_path, monkeypatch, chunk, encoding):
    """Blank lines (pyarrow skips them), CRLF line ends, a last line without a line break, a byte-order mark: the
    ranges hold exactly the records of the streaming reader's batches of the same size, whatever the scan's
    chunk size."""
    frame = _customers(130)
    lines = frame.to_csv(index=False, lineterminator="\r\n").split("\r\n")
    lines = lines[:1] + ["", *lines[1:40], "", "", *lines[40:]]  # blank lines at a cut and in a range
    source = tmp_path / "blank.csv"
    source.write_bytes("\r\n".join(lines).rstrip("\r\n").encode(encoding))
    monkeypatch.setattr(source_module, "_CHUNK", chunk)
    policy = _encoded(encoding)
    src = resolve_source(policy, source)
    found = csv_ranges(src, policy, 20)
    assert found.reason is None
    assert [r.rows for r in found.ranges] == [20] * 6 + [10]
    assert [r.first_row for r in found.ranges] == list(range(0, 130, 20))
    ranged = [f for r in found.ranges for f in read_csv_range(src, policy, found.header_end, r, 20)]
    streamed = list(read_batches(src, policy, 20))
    assert len(ranged) == len(streamed) == 7
    for a, b in zip(ranged, streamed):
        pd.testing.assert_frame_equal(a, b)


def test_a_csv_in_utf16_is_one_range_saying_why(tmp_path):
    source = tmp_path / "wide.csv"
    source.write_bytes(_customers(30).to_csv(index=False).encode("utf-16"))
    policy = _encoded("utf-16")
    found = csv_ranges(resolve_source(policy, source), policy, 10)
    assert not found.ranges and "utf-16" in found.reason
    assert sum(map(len, read_batches(resolve_source(policy, source), policy, 10))) == 30


def test_csv_ranges_refuse_a_file_changed_since_recorded(tmp_path):
    policy = load_policy(INSURANCE)
    source = tmp_path / "c.csv"
    _customers(50).to_csv(source, index=False)
    src = resolve_source(policy, source)
    source.write_text(source.read_text().replace("F,", "M,", 1))
    with pytest.raises(InputDataError, match="unchanged since recorded"):
        csv_ranges(src, policy, 20)


# ---- fsspec URLs ---------------------------------------------------------------------------------------------------

@pytest.fixture
def memory_file():
    """A unique memory:// folder, removed afterwards (the memory filesystem is global to the process)."""
    fs = fsspec.filesystem("memory")
    folder = f"/anon-test-{uuid.uuid4().hex}"
    yield fs, folder
    fs.rm(folder, recursive=True)


def _customers_file(tmp_path, fmt: str, row_group_size: int):
    """The customers table as a local CSV or parquet file (parquet: text columns, in row groups)."""
    local = tmp_path / f"customers.{fmt}"
    frame = _customers()
    if fmt == "csv":
        frame.to_csv(local, index=False)
    else:
        frame.astype("str").where(frame.notna(), None).to_parquet(local, row_group_size=row_group_size)
    return local


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_memory_url_source_with_the_streaming_engine(tmp_path, memory_file, fmt):
    fs, folder = memory_file
    local = _customers_file(tmp_path, fmt, row_group_size=100)
    fs.pipe(f"{folder}/customers.{fmt}", local.read_bytes())
    url = f"memory://{folder}/customers.{fmt}"
    policy = load_policy(INSURANCE)
    remote, here = resolve_source(policy, url), resolve_source(policy, local)
    assert (remote.path, remote.format, remote.sha256, remote.n_bytes) == (url, fmt, here.sha256, here.n_bytes)
    fitted = run_policy(INSURANCE, source=local, workdir=tmp_path, batch_rows=70)
    from_url = run_policy(INSURANCE, source=url, workdir=tmp_path, plan=fitted.plan_id, batch_rows=70)
    from_path = run_policy(INSURANCE, source=local, workdir=tmp_path, plan=fitted.plan_id, batch_rows=70)
    assert from_url.released and not from_url.failed_checks
    assert _profile(from_url) == _profile(from_path) and from_url.checks == from_path.checks


def test_url_errors_are_typed(tmp_path, memory_file):
    fs, folder = memory_file
    policy = load_policy(INSURANCE)
    with pytest.raises(InputDataError, match="source exists"):
        resolve_source(policy, f"memory://{folder}/absent.csv")
    fs.mkdir(f"{folder}/sub")
    fs.pipe(f"{folder}/sub/x.csv", b"a\n1\n")
    with pytest.raises(InputDataError, match="source is a file"):
        resolve_source(policy, f"memory://{folder}/sub")
    with pytest.raises(InputDataError, match="source readable") as unknown:
        resolve_source(policy, "nosuchprotocol://bucket/x.csv")
    assert "install fsspec" in str(unknown.value)


def test_a_memory_url_is_refused_on_the_cluster(tmp_path, memory_file, scheduler):
    fs, folder = memory_file
    fs.pipe(f"{folder}/c.csv", _customers(50).to_csv(index=False).encode())
    with pytest.raises(InputDataError, match="source readable by the workers") as refused:
        run_policy(INSURANCE, source=f"memory://{folder}/c.csv", workdir=tmp_path, engine="dask",
                   scheduler=scheduler)
    assert "other processes" in str(refused.value)
    assert not (tmp_path / "insurance_customers" / "release").exists()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_file_url_on_the_cluster(tmp_path, scheduler, fmt):
    local = _customers_file(tmp_path, fmt, row_group_size=50)
    streamed, dasked, tasks = _same_release_in_tasks(local.as_uri(), tmp_path, scheduler, batch_rows=50)
    assert tasks == 12  # 600 rows: 12 line ranges, or 12 runs of one 50-row group
    assert len(dasked.anonymised) == len(streamed.anonymised)
