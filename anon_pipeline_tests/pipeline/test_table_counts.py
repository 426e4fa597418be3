"""The counts of a staged table are counted once, sealed beside its parts, and read back the same by any later
stage (another Dagster process included); a companion cut short is counted again, not trusted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anon_pipeline.pipeline import graph, table_counts
from anon_pipeline.pipeline.graph import Run
from anon_pipeline.pipeline.qi_table import GUID
from anon_pipeline.pipeline.staged import StagedTable
from anon_pipeline.pipeline.table_counts import staged_counts
from anon_pipeline.policy import load_policy


def _staged(tmp_path) -> tuple[StagedTable, pd.DataFrame]:
    rng = np.random.default_rng(3)
    n = 1000
    frame = pd.DataFrame({
        GUID: pd.array([f"{i:036d}" for i in range(n)], dtype="str"),
        "band": pd.Series(rng.choice(["0-20", "20-40", None], n), dtype="str"),
        "code": rng.integers(0, 5, n),
        "weight": np.where(rng.random(n) < .05, np.nan, rng.integers(30, 100, n) / 2),
    })
    table = StagedTable.create(tmp_path, "anonymised", 3)
    for part, rows in enumerate(np.array_split(np.arange(n), 4)):
        table.write_part(frame.iloc[rows], part % 3, part)
    return table, frame


def test_counts_are_counted_once_and_read_back_equal(tmp_path, monkeypatch):
    table, frame = _staged(tmp_path)
    first = staged_counts(table, ["band", "code", "not a column"])
    assert first.n_rows == len(frame) and list(first.joint.frame.columns) == ["band", "code"]
    joint = frame.groupby(["band", "code"], dropna=False).size()
    assert sorted(first.joint.weights.tolist()) == sorted(joint.tolist())
    for column in ("band", "code", "weight"):
        counts, expected = first.columns[column], frame[column].value_counts(dropna=False)
        assert counts[counts.index.notna()].to_dict() == expected[expected.index.notna()].to_dict()
        assert int(counts[counts.index.isna()].sum()) == int(frame[column].isna().sum())
    assert GUID not in first.columns

    def no_second_count(*args, **kwargs):
        raise AssertionError("counted twice")

    monkeypatch.setattr(table_counts, "count_batches", no_second_count)
    again = staged_counts(StagedTable.of(table.as_dict()), ["band", "code"])
    pd.testing.assert_frame_equal(again.joint.frame, first.joint.frame)
    assert np.array_equal(again.joint.weights, first.joint.weights)
    for column, counts in first.columns.items():
        pd.testing.assert_series_equal(again.columns[column], counts, check_names=False, check_index_type=False)
    columns_only = staged_counts(StagedTable.of(table.as_dict()), ["band", "code"], joint=False)
    assert columns_only.joint is None and columns_only.columns.keys() == first.columns.keys()
    # Other measured columns are another count, not a stale one.
    with pytest.raises(AssertionError, match="counted twice"):
        staged_counts(table, ["band"])


def test_a_cut_companion_is_counted_again_not_trusted(tmp_path):
    table, _ = _staged(tmp_path)
    first = staged_counts(table, ["band"])
    joint = next(p for p in tmp_path.rglob("*") if p.name.startswith("table-counts-joint"))
    joint.write_bytes(joint.read_bytes()[:-10])
    again = staged_counts(StagedTable.of(table.as_dict()), ["band"])
    assert np.array_equal(np.sort(again.joint.weights), np.sort(first.joint.weights))
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_counts_taken_as_the_table_is_written_are_those_of_the_table(tmp_path, monkeypatch):
    from anon_pipeline.pipeline.table_counts import CountsAsWritten

    rng = np.random.default_rng(4)
    n = 900
    frame = pd.DataFrame({GUID: pd.array([f"{i:036d}" for i in range(n)], dtype="str"),
                          "band": pd.Series(rng.choice(["a", "b", None], n), dtype="str"),
                          "code": rng.integers(0, 4, n)})
    table = StagedTable.create(tmp_path, "anonymised", 2)
    written = CountsAsWritten(["band", "code"])
    for part, rows in enumerate(np.array_split(np.arange(n), 3)):
        table.write_part(frame.iloc[rows], part % 2, part)
        written.add(frame.iloc[rows])
    sealed = written.result(table)
    assert sealed is not None
    table_counts.seal_counts(table, sealed)

    def no_second_count(*args, **kwargs):
        raise AssertionError("counted twice")

    monkeypatch.setattr(table_counts, "count_batches", no_second_count)
    read = staged_counts(StagedTable.of(table.as_dict()), ["band", "code"])
    joint = frame.groupby(["band", "code"], dropna=False).size()
    assert read.n_rows == n and sorted(read.joint.weights.tolist()) == sorted(joint.tolist())
    assert read.columns["code"].to_dict() == frame["code"].value_counts().to_dict()


def test_counts_of_part_of_a_table_are_not_given_as_the_tables(tmp_path):
    from anon_pipeline.pipeline.table_counts import CountsAsWritten

    table, frame = _staged(tmp_path)
    written = CountsAsWritten(["band"])
    written.add(frame.iloc[:10])  # shown ten rows of a thousand
    assert written.result(table) is None
    assert not table.has_extra("table-counts-joint")


@pytest.mark.parametrize("one_process", [True, False])
def test_a_pass_seals_its_counts_unless_the_next_stages_read_them_from_memory(tmp_path, monkeypatch, one_process):
    policy = load_policy(Path(__file__).parents[2] / "policies" / "insurance_customers.yaml")
    table, frame = _staged(tmp_path)
    counts = table_counts.count_batches([frame.drop(columns=GUID)], ["band", "code"], ["band", "code", "weight"])
    monkeypatch.setattr(graph, "_COUNTS", graph._Recent(4))
    Run(policy, one_process=one_process).took_counts(table, counts)
    # ``run_policy`` and Dagster's in-process executor run every stage in one process: nobody would read a sealed
    # copy. Under another executor each step may run in a process of its own.
    assert table.has_extra("table-counts-joint") is not one_process
    assert Run(policy).counts(table, "output") is counts  # kept for the next stage either way

    monkeypatch.setattr(graph, "_KEPT_DISTINCT_ROWS", 2)  # too many distinct rows to hold through the release
    again, _ = _staged(tmp_path / "again")
    Run(policy, one_process=True).took_counts(again, counts)
    assert again.has_extra("table-counts-joint")
