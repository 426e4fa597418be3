"""Differentially private aggregate releases: the counts, sums, means and histograms a policy declares under
``dp: {aggregates: [...]}``, computed with OpenDP noise and written as their own release folder.

Neighbouring datasets differ by adding or removing one row. Every aggregate is a set of disjoint cells (one per
combination of the ``by`` columns' public keys, times the bins of a histogram), so one row changes one cell:
a count or histogram has L1 sensitivity 1 (discrete Laplace, scale 1 / epsilon), a sum of values clipped to
``[low, high]`` max(|low|, |high|) (scale = that / epsilon; OpenDP's bound for floats is a hair larger, and
high - low when the bounds differ in sign). A mean spends half its epsilon on the clipped sum and half on the
count of rows with a value; it is their ratio (the count floored at 1), clipped to the bounds: post-processing.

The cells come from the policy, never from the data: every declared key appears, with noise, whether or not a
row has it, so a key's presence reveals nothing. Rows whose key is missing or not declared, and rows without a
value in the aggregated column, are left out (a stable selection). Histogram values outside the edges count
in the end bins. Noise comes from OpenDP's CSPRNG and is not seeded (see ``dp.mechanisms``).
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from anon_pipeline.dp.accounting import Spend
from anon_pipeline.dp.ledger import Ledger, dataset_of
from anon_pipeline.dp.mechanisms import laplace_counts, laplace_sums
from anon_pipeline.policy.dp_spec import AggregateSpec, check_aggregates, group_keys
from anon_pipeline.workdir import PolicyDirs

if TYPE_CHECKING:  # the policy model imports this package's spec: a run-time import would be a cycle
    from anon_pipeline.policy.model import Policy
from anon_pipeline.release.manifest import build_manifest, policy_hash
from anon_pipeline.release.writer import write_release
from anon_pipeline.secrets.keys import encryption_key

RELEASE_DIR = "release_aggregates"
NEIGHBOURING = "add or remove one row"


def _cells(table: pd.DataFrame, spec: AggregateSpec, keys: Mapping[str, list[Any]]) -> tuple[pd.DataFrame, np.ndarray]:
    """Every cell of the aggregate (a frame of its keys) and each row's cell (-1: left out)."""
    code = np.zeros(len(table), dtype=np.int64)
    axes: list[list[Any]] = []
    headers: list[str] = []
    for col in spec.by:
        values = keys[col]
        codes = pd.Categorical(table[col], categories=values).codes.astype(np.int64)
        code = np.where((code < 0) | (codes < 0), -1, code * len(values) + codes)
        axes.append(values)
        headers.append(col)
    if spec.kind == "histogram":
        edges = np.asarray(spec.edges, dtype=float)
        x = pd.to_numeric(table[spec.column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bins = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
        code = np.where((code < 0) | np.isnan(x), -1, code * (len(edges) - 1) + bins)
        axes.append(list(zip(edges[:-1].tolist(), edges[1:].tolist())))
        headers.append("_bin")
    elif spec.column is not None:
        code = np.where(table[spec.column].isna().to_numpy(), -1, code)
    frame = pd.DataFrame(list(itertools.product(*axes)), columns=headers) if axes else pd.DataFrame(index=[0])
    if "_bin" in frame:
        frame["bin_low"], frame["bin_high"] = zip(*frame.pop("_bin")) if len(frame) else ([], [])
    return frame.reset_index(drop=True), code


def _sums(table: pd.DataFrame, spec: AggregateSpec, code: np.ndarray, n_cells: int,
          epsilon: float) -> tuple[np.ndarray, float]:
    series = table[spec.column]
    dtype = np.int64 if pd.api.types.is_integer_dtype(series.dtype) else float
    values = series.to_numpy(dtype=dtype, na_value=0)
    order = np.argsort(code, kind="stable")
    starts = np.searchsorted(code[order], np.arange(n_cells + 1))
    groups = [values[order[starts[i]:starts[i + 1]]] for i in range(n_cells)]
    assert spec.bounds is not None  # AggregateSpec requires bounds for a sum or a mean
    return laplace_sums(groups, spec.bounds, epsilon)


def _counts(code: np.ndarray, n_cells: int, epsilon: float) -> tuple[np.ndarray, float]:
    return laplace_counts(np.bincount(code[code >= 0], minlength=n_cells), epsilon)


def aggregate_spend(spec: AggregateSpec) -> Spend:
    """What one aggregate spends, known from its spec before any data is read."""
    return Spend(spec.epsilon, 0.0, None, f"laplace_{spec.kind}")


def aggregate(table: pd.DataFrame, spec: AggregateSpec, keys: Mapping[str, list[Any]]) -> tuple[pd.DataFrame, Spend]:
    """One aggregate's noisy table (its keys, ``value`` and the Laplace ``scale``; a mean also gives its noisy
    ``sum`` and ``count`` with their scales) and its spend. ``keys``: the public keys of each ``by`` column."""
    frame, code = _cells(table, spec, keys)
    n = len(frame)
    if spec.kind in ("count", "histogram"):
        frame["value"], frame["scale"] = _counts(code, n, spec.epsilon)
    elif spec.kind == "sum":
        frame["value"], frame["scale"] = _sums(table, spec, code, n, spec.epsilon)
    else:
        frame["sum"], frame["sum_scale"] = _sums(table, spec, code, n, spec.epsilon / 2)
        frame["count"], frame["count_scale"] = _counts(code, n, spec.epsilon / 2)
        assert spec.bounds is not None
        low, high = spec.bounds
        frame.insert(len(frame.columns) - 4, "value",
                     np.clip(frame["sum"] / np.maximum(frame["count"], 1.0), low, high))
    return frame, aggregate_spend(spec)


def dp_aggregates(table: pd.DataFrame, specs: Sequence[AggregateSpec], policy: Policy
                  ) -> tuple[dict[str, pd.DataFrame], dict[str, Spend]]:
    """Every declared aggregate of ``table`` (the policy's input column names): noisy tables and spends, by name.
    The key columns keep their input names: they hold input values, which the released table may have
    generalised or encoded under its output name."""
    tables, spends = {}, {}
    for spec in specs:
        tables[spec.name], spends[spec.name] = aggregate(table, spec, group_keys(spec, policy))
    return tables, spends


@dataclass(frozen=True)
class DrawnAggregates:
    """The noisy tables of a run's aggregates, charged to the ledger but not yet published, and what their
    manifest says: a stage draws them, and the release publishes them only when the whole run publishes."""

    tables: dict[str, pd.DataFrame]
    #: The manifest's fields besides the provenance (dataset, draw id, epsilons, ...).
    manifest: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """JSON: each table in pandas' ``split`` form (small: one row per public key or bin)."""
        return {"tables": {name: t.to_dict(orient="split", index=False) for name, t in self.tables.items()},
                "manifest": self.manifest}

    @classmethod
    def of(cls, doc: dict[str, Any]) -> "DrawnAggregates":
        return cls({name: pd.DataFrame(t["data"], columns=t["columns"]) for name, t in doc["tables"].items()},
                   doc["manifest"])


def draw_dp_aggregates(table: pd.DataFrame, policy: Policy, workdir: str | Path, release_id: str
                       ) -> DrawnAggregates | None:
    """Compute the policy's DP aggregates on ``table`` and charge the dataset's ledger for all of them at once
    (``BudgetExceeded``: nothing charged). None when the policy declares no aggregates.

    ``table`` is the validated input with the policy's input column names: the qi table (before anonymisation;
    DP protects by itself, so there is no need to aggregate the generalised table). ``workdir`` is the base
    working folder (the ledger's home, as for ``charge_plan``). Every call draws fresh noise, so every call is
    charged: the ledger ids carry a random draw id. A draw that is never published stays charged: the accounting
    errs on the side of the people in the data.
    """
    dp = policy.dp
    if dp is None or not dp.aggregates:
        return None
    specs = dp.aggregates
    check_aggregates(policy, policy.path)  # policies built in code skip the loader
    tables, spends = dp_aggregates(table, specs, policy)
    dataset_id = dataset_of(policy)
    draw = secrets.token_hex(8)
    Ledger.for_dataset(workdir, dataset_id).charge(
        {f"{release_id}:{draw}:{name}": s for name, s in spends.items()}, policy=policy.name,
        budget=dp.budget, policy_file=policy.path)
    described = {spec.name: {**spec.model_dump(exclude_none=True, exclude_defaults=True), "epsilon": spec.epsilon,
                             "delta": spends[spec.name].delta, "mechanism": spends[spec.name].mechanism}
                 for spec in specs}
    # Not the release id: a run's names it after the input's checksum, a figure of the exact input.
    return DrawnAggregates(tables, {
        "dataset_id": dataset_id, "draw_id": draw, "neighbouring": NEIGHBOURING,
        "epsilon_total": sum(s.epsilon for s in spends.values()), "aggregates": described,
        "noise": "OpenDP, from the operating system's CSPRNG (not seeded)"})


def publish_dp_aggregates(drawn: DrawnAggregates, policy: Policy, workdir: str | Path) -> Path:
    """Write drawn aggregates to ``<workdir>/<policy>/release_aggregates/<version>/`` (one table per aggregate, the
    manifest recording each epsilon): a release of their own, atomic, signed and read-only like the table's."""
    manifest = build_manifest(policy_hash=policy_hash(policy), seed=policy.seed, checks={}, policy_name=policy.name,
                              extra=drawn.manifest)
    dirs = PolicyDirs.for_policy(workdir, policy.name)
    return write_release(dirs.inside(dirs.root / RELEASE_DIR, f"folder {RELEASE_DIR}/"), drawn.tables,
                         formats=policy.release.formats, manifest=manifest, key=encryption_key(),
                         file_mode=int(policy.release.file_mode, 8), dir_mode=int(policy.release.dir_mode, 8))


def write_dp_aggregates(table: pd.DataFrame, policy: Policy, workdir: str | Path, release_id: str) -> Path | None:
    """Draw the policy's DP aggregates (``draw_dp_aggregates``: computed and charged; ``BudgetExceeded`` means
    nothing was charged or written) and publish them at once (``publish_dp_aggregates``). None when the policy
    declares no aggregates."""
    drawn = draw_dp_aggregates(table, policy, workdir, release_id)
    return publish_dp_aggregates(drawn, policy, workdir) if drawn is not None else None
