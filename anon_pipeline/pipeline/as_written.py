"""Checks judged batch by batch, and what the pass that writes a staged table judges of it on the way.

A schema check of a staged table reads it bucket by bucket (``batchwise``). The streaming engine's passes already
hold every batch they write: ``AsWritten`` takes the table's counts there (``table_counts.CountsAsWritten``, sealed
beside the table unless every later stage runs in this process: ``Run.took_counts``) and judges its batchwise checks
(recorded in its descriptor), so no stage or check reads the table again for them; ``judged`` gives a check's
recorded outcome, else judges the table's buckets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import pandas as pd

from anon_pipeline.metrics.counted import TableCounts
from anon_pipeline.pipeline.checks import CheckOutcome
from anon_pipeline.pipeline.guids import GuidPrefixes
from anon_pipeline.pipeline.qi_table import GUID
from anon_pipeline.pipeline.staged import StagedTable
from anon_pipeline.pipeline.table_counts import CountsAsWritten

Judge = Callable[[pd.DataFrame], CheckOutcome]


class Batchwise:
    """A schema check judged batch by batch: the first broken batch's outcome, else one passing outcome counting
    every row (a staged table's buckets hold equal GUIDs together, so uniqueness holds table-wide)."""

    def __init__(self, check: Judge) -> None:
        self.check = check
        self.rows = 0
        self._last: CheckOutcome | None = None

    @property
    def broken(self) -> bool:
        return self._last is not None and not self._last.passed

    def add(self, batch: pd.DataFrame) -> None:
        if self.broken:
            return  # the first broken batch says what is wrong
        self._last = self.check(batch)
        self.rows += len(batch)

    def outcome(self) -> CheckOutcome:
        last = self._last
        assert last is not None, "a staged table yields at least one (maybe empty) batch"
        if not last.passed:
            return last
        return CheckOutcome(last.name, True, True, last.description, {**last.metadata, "rows": self.rows})


def batchwise(batches: Iterable[pd.DataFrame], check: Judge) -> list[CheckOutcome]:
    judged = Batchwise(check)
    for batch in batches:
        judged.add(batch)
        if judged.broken:
            break
    return [judged.outcome()]


def judged(table: StagedTable, name: str, check: Judge) -> list[CheckOutcome]:
    """Check ``name`` as the pass that wrote the table judged it on every row (``AsWritten``), else judged now,
    bucket by bucket."""
    found = table.checked.get(name)
    if found is not None:
        return [CheckOutcome(name, found["passed"], True, found["description"], found["metadata"])]
    return batchwise(table.buckets(), check)


class AsWritten:
    """What the pass that writes a table judges of it on the way: its counts over ``measured`` and the batchwise
    ``checks``. A pass that never shows it a batch (the Dask engine's) leaves both to be measured later, from the
    table. ``across_batches``: the batches are not whole GUID buckets (the qi pass's source batches), so a check's
    GUID uniqueness holds table-wide only if no two batches share a GUID (``GuidPrefixes``); else the checks are
    not recorded and read the table."""

    def __init__(self, measured: Sequence[str], checks: dict[str, Judge] | None = None,
                 across_batches: bool = False) -> None:
        self.counts = CountsAsWritten(measured)
        self.checks = {name: Batchwise(check) for name, check in (checks or {}).items()}
        self.prefixes = GuidPrefixes() if across_batches and self.checks else None

    def __call__(self, batch: pd.DataFrame) -> None:
        self.counts.add(batch)
        for check in self.checks.values():
            check.add(batch)
        if self.prefixes is not None and GUID in batch.columns:
            self.prefixes.add(batch[GUID])

    def finish(self, table: StagedTable) -> TableCounts | None:
        """Record the checks in ``table``'s descriptor and return its counts (for ``Run.took_counts``), or None
        when the pass showed no batch or not the whole table (then nothing is recorded)."""
        # The GUIDs' prefixes are let go before the counts are merged: the two peaks do not add up.
        distinct = self.prefixes is None or self.prefixes.distinct()
        self.prefixes = None
        counts = self.counts.result(table)
        if counts is None or not distinct:
            return counts
        for name, check in self.checks.items():
            outcome = check.outcome()
            table.checked[name] = {"passed": outcome.passed, "description": outcome.description,
                                   "metadata": outcome.metadata}
        return counts
