"""Reading hierarchies in ARX's CSV format: ``;``-separated, no header, a value then ever more general levels."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd


def load_arx_csv(path: str | Path) -> pd.DataFrame:
    """Load an ARX hierarchy file: column 0 is the value, then ever more general levels, all as ``str``.

    Columns are named ``0 .. h-1`` (the generalisation level). Rows shorter than the longest are an error:
    ARX requires every value to have the same number of levels.
    """
    path = Path(path)
    # The csv module (not pandas' parser) keeps every field a string and never guesses NA/numbers.
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = [row for row in csv.reader(fh, delimiter=";") if row and any(cell != "" for cell in row)]
    if not rows:
        raise ValueError(f"hierarchy {path}: file is empty")
    width = len(rows[0])
    bad = sum(1 for row in rows if len(row) != width)
    if bad:
        raise ValueError(f"hierarchy {path}: {bad} row(s) do not have {width} levels like the first row")
    return pd.DataFrame(rows, columns=list(range(width)), dtype=str)
