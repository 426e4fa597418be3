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
    that attribute is left out (sdcMicro users ask for this to see which attribute makes records unique).

    Worked on classes, not rows (every row of a class holds the same codes). The columns are split in two
    halves: a record unique on the whole table can only stop being unique, when a column of one half is left
    out, by matching another class on the entire other half, so each half's leave-one-out group-bys run only
    over the classes whose key on the other half is shared (few, where the records are unique)."""
    unique = sizes == 1
    if not unique.any():
        return {c.name: 0 for c in columns}
    # Any row of a class stands for it.
    representative = np.empty(len(sizes), dtype=np.int64)
    representative[class_ids] = np.arange(len(class_ids))
    classes = [EncodedColumn(c.name, c.codes[representative], c.uniques) for c in columns]
    out: dict[str, int] = {}
    halves = _halves(classes)
    for half, other in (halves, halves[::-1]):
        if not half:
            continue
        key, n_keys = joint_ids([classes[j] for j in other], len(sizes), ordered=False)
        candidates = np.flatnonzero(np.bincount(key, minlength=n_keys)[key] > 1)
        sub = [EncodedColumn(c.name, c.codes[candidates], c.uniques) for c in classes]
        for i in half:
            ids, n = joint_ids([c for j, c in enumerate(sub) if j != i], len(candidates), ordered=False)
            shared = np.bincount(ids, weights=sizes[candidates], minlength=n)
            out[classes[i].name] = int((shared[ids[unique[candidates]]] > 1).sum())
    return {c.name: out[c.name] for c in columns}


def _halves(columns: Sequence[EncodedColumn]) -> tuple[list[int], list[int]]:
    """Column positions in two groups of about equal log-cardinality (each as discriminating as can be)."""
    halves: tuple[list[int], list[int]] = ([], [])
    weight = [0.0, 0.0]
    for j in sorted(range(len(columns)), key=lambda j: -columns[j].cardinality):
        side = int(weight[1] < weight[0])
        halves[side].append(j)
        weight[side] += float(np.log(max(columns[j].cardinality, 1)))
    return halves
