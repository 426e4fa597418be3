"""Re-identification risk from class sizes: prosecutor and marketer risk, sample uniques, records at risk, and
per quasi-identifier how many sample-unique records stop being unique when that attribute is left out.

The prosecutor knows the target is in the table, so a record's risk is 1 / (size of its class) (El Emam's
model, as ARX and sdcMicro report it). The marketer re-identifies as many records as possible: the expected
share of correct matches is (number of classes) / (population size); without a population size the table is
taken to be the population.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from anon_pipeline.metrics.encoding import EncodedColumn, joint_ids


def prosecutor_risk(sizes: np.ndarray, threshold: float) -> dict[str, float | int]:
    """Risk figures from the non-empty class sizes of one group-by."""
    n_rows = int(sizes.sum())
    if n_rows == 0:
        return {"prosecutor_risk_max": 0.0, "prosecutor_risk_avg": 0.0, "records_at_risk": 0,
                "records_at_risk_share": 0.0, "sample_uniques": 0, "sample_unique_share": 0.0}
    # A record is at risk when 1/f > threshold, i.e. f * threshold < 1 (kept in one comparison for all classes).
    at_risk = int(sizes[sizes * threshold < 1].sum())
    uniques = int((sizes == 1).sum())
    return {
        "prosecutor_risk_max": 1.0 / float(sizes.min()),
        "prosecutor_risk_avg": len(sizes) / n_rows,  # mean over records of 1/f = classes / rows
        "records_at_risk": at_risk,
        "records_at_risk_share": at_risk / n_rows,
        "sample_uniques": uniques,
        "sample_unique_share": uniques / n_rows,
    }


def marketer_risk(n_classes: int, n_rows: int, population_size: int | None = None) -> float:
    population = population_size if population_size is not None else n_rows
    if population_size is not None and population_size < n_rows:
        raise ValueError(f"population_size {population_size} is smaller than the table ({n_rows} rows)")
    return n_classes / population if population else 0.0


def uniques_resolved_without(columns: Sequence[EncodedColumn], class_ids: np.ndarray,
                             sizes: np.ndarray) -> dict[str, int]:
    """For each quasi-identifier, how many sample-unique records share their class with another record once
    that attribute is left out (sdcMicro users ask for this to see which attribute makes records unique)."""
    unique_rows = sizes[class_ids] == 1
    out: dict[str, int] = {}
    if not unique_rows.any():
        return {c.name: 0 for c in columns}
    n_rows = len(class_ids)
    for i, col in enumerate(columns):
        others = [c for j, c in enumerate(columns) if j != i]
        ids, n = joint_ids(others, n_rows)
        out[col.name] = int((np.bincount(ids, minlength=n)[ids[unique_rows]] > 1).sum())
    return out
