"""The counts the reports and privacy checks read of a staged table, counted once per table and kept beside it.

``metrics.counted`` counts a table's distinct rows over the measured columns, and each column's values. The
streaming engine's passes count the tables they write on the way (``CountsAsWritten``); a table written otherwise
is counted in one pass over its buckets by the first stage or check that needs it (in any process: Dagster may run
each asset in its own). Either seals the counts into the staged folder as companion tables; the others read those
back.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from anon_pipeline.metrics.counted import CountedRows, TableCounter, TableCounts, count_batches
from anon_pipeline.pipeline.qi_table import GUID
from anon_pipeline.pipeline.staged import StagedTable
from anon_pipeline.secrets import SecretsError

#: The weight column of the sealed joint counts (a name no policy column can take: it holds a space).
_WEIGHT = "rows per distinct row"
_JOINT = "table-counts-joint"
_COLUMN = "table-counts-column"


def staged_counts(table: StagedTable, measured: Sequence[str], joint: bool = True) -> TableCounts:
    """The counts of ``table``: joint over those of ``measured`` it has, and per column (the GUID aside). With
    ``joint=False`` a caller that reads only the columns' counts may get ``joint`` None (when they were counted
    before: the joint table is not read back)."""
    columns, joint_columns = _counted(table.columns, measured)
    found = _read(table, joint_columns, columns, joint)
    if found is not None:
        return found
    counts = count_batches(table.buckets(columns, sort_by=None), joint_columns, columns)
    seal_counts(table, counts)
    return counts


def _counted(table_columns: Sequence[str], measured: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the columns counted one by one, those counted jointly) of a table with ``table_columns``."""
    columns = [c for c in table_columns if c != GUID]
    return columns, [c for c in dict.fromkeys(measured) if c in columns]


class CountsAsWritten:
    """The counts ``staged_counts`` gives, gathered by the pass that writes the table, batch by batch, and sealed
    beside it when the pass ends: the reports and checks read them back instead of a second pass over the table
    (the decryption of every part, then the count)."""

    def __init__(self, measured: Sequence[str]) -> None:
        self.measured = list(measured)
        self._counter: TableCounter | None = None

    def add(self, batch: pd.DataFrame) -> None:
        if self._counter is None:
            columns, joint = _counted(list(batch.columns), self.measured)
            self._counter = TableCounter(joint, columns)
        self._counter.add(batch)

    def result(self, table: StagedTable) -> TableCounts | None:
        """The counts of ``table``, when they count all of it (same rows and columns); ``seal_counts`` keeps them
        beside it."""
        if self._counter is None or self._counter.rows != table.rows or \
                self._counter.columns != _counted(table.columns, self.measured)[0]:
            return None
        return self._counter.result()


def _read(table: StagedTable, joint: list[str], columns: list[str], with_joint: bool) -> TableCounts | None:
    try:
        # The joint table is written last: where it is, every column's counts are too.
        frame = table.extra(_JOINT) if with_joint else None
        if (frame is None and with_joint) or (frame is not None and list(frame.columns) != [*joint, _WEIGHT]) \
                or not table.has_extra(_JOINT):
            return None
        per_column = {}
        for i, c in enumerate(columns):
            stored = table.extra(f"{_COLUMN}{i}")
            if stored is None:
                return None
            per_column[c] = pd.Series(stored["count"].to_numpy(dtype=np.int64), index=pd.Index(stored["value"]))
    except SecretsError:
        return None  # written with another key, or cut short: count again
    if frame is None:
        return TableCounts(None, per_column, table.rows)
    weights = frame.pop(_WEIGHT).to_numpy(dtype=np.int64)
    return TableCounts(CountedRows(frame, weights), per_column, table.rows)


def seal_counts(table: StagedTable, counts: TableCounts) -> None:
    """Keep ``counts`` (of all of ``table``) beside it, where ``staged_counts`` reads them in any process."""
    for i, c in enumerate(counts.columns):
        values = counts.columns[c]
        table.write_extra(f"{_COLUMN}{i}", pd.DataFrame({"value": values.index, "count": values.to_numpy()}))
    # The joint table last: a reader that finds it finds every column's counts too.
    assert counts.joint is not None, "a fresh count has its joint table"
    table.write_extra(_JOINT, counts.joint.frame.assign(**{_WEIGHT: counts.joint.weights}))
