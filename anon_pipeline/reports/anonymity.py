"""The anonymity report of a policy run: every measure of the metrics engine for the quasi-identifier table and
the anonymised table side by side, plus K_eps and the privacy of synthetic rows where they apply.

Only counts and measures leave the raw side; for the anonymised side the generalised values of the smallest
classes are shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from anon_pipeline.metrics.counted import CountedRows, TableCounts
from anon_pipeline.metrics.encoding import EncodedColumn, encode_frame
from anon_pipeline.metrics.k_eps import k_eps
from anon_pipeline.metrics.measure import measure
from anon_pipeline.metrics.report import anonymity_report as measures_side_by_side
from anon_pipeline.metrics.report import report_markdown
from anon_pipeline.criteria import PrivacyTargets
from anon_pipeline.policy.model import Policy, Role
from anon_pipeline.synthesis.privacy import privacy_report


def anonymity_report(qi_table: pd.DataFrame | CountedRows | TableCounts,
                     anonymised: pd.DataFrame | CountedRows | TableCounts, policy: Policy,
                     before_group_steps: pd.DataFrame | None = None, plan_summary: dict[str, Any] | None = None,
                     rows: Callable[[], tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]] | None = None
                     ) -> dict[str, Any]:
    """Every measure of both tables, given as rows or as counts (``metrics.counted``, over the quasi-identifiers
    and sensitive attributes). K_eps and the privacy of synthetic rows are measured row by row: with counts,
    ``rows`` gives the qi, anonymised and before_group_steps tables when the policy has such columns."""
    qi_table, anonymised = _joint(qi_table), _joint(anonymised)
    spec = PrivacyTargets.model_validate(policy.privacy.model_dump())
    params: dict[str, Any] = {"suppressed": spec.suppressed, "suppression_marker": spec.suppression_marker}
    if spec.k is not None:
        params["k"] = spec.k
    if spec.risk is not None:
        params.update(risk_threshold=spec.risk.threshold, population_size=spec.risk.population_size)
    # Both sides are measured twice (the k target's quasi-identifiers, then all of them): encode each column once.
    inputs = list(dict.fromkeys([*policy.k_quasi_identifiers, *policy.quasi_identifiers,
                                 *policy.columns_with(Role.sensitive)]))
    raw_frame, anon_frame = _frame(qi_table), _frame(anonymised)
    encoded = (encode_frame(raw_frame, [c for c in inputs if c in raw_frame.columns]),
               encode_frame(anon_frame, [o for o in map(policy.output_name, inputs) if o in anon_frame.columns]))
    report = measures_side_by_side(qi_table, anonymised, policy.k_quasi_identifiers,
                                   policy.columns_with(Role.sensitive),
                                   rename={c: policy.output_name(c) for c in policy.columns}, encoded=encoded,
                                   **params)
    report = {"policy": policy.name, "k_target": spec.k, **report,
              "all_quasi_identifiers": all_quasi_identifiers(qi_table, anonymised, policy, params, encoded)}
    if isinstance(qi_table, CountedRows) or isinstance(anonymised, CountedRows):
        if needs_rows(anon_frame, policy):
            assert rows is not None, "K_eps and the synthetic rows' privacy need the tables' rows"
            qi_table, anonymised, before_group_steps = rows()
        else:
            qi_table = anonymised = None
    if qi_table is not None and anonymised is not None:
        report.update(continuous_measures(qi_table if before_group_steps is None else before_group_steps, anonymised, policy))
    if plan_summary:
        report["steps"] = plan_summary
        # Group steps name columns as the policy's groups do (input names); the release names them otherwise.
        report["released_as"] = {c: policy.output_name(c) for c in policy.columns if policy.output_name(c) != c}
    return report


def _joint(table: pd.DataFrame | CountedRows | TableCounts) -> pd.DataFrame | CountedRows:
    return table.joint if isinstance(table, TableCounts) else table


def _frame(table: pd.DataFrame | CountedRows) -> pd.DataFrame:
    return table.frame if isinstance(table, CountedRows) else table


def needs_rows(anonymised: pd.DataFrame, policy: Policy) -> bool:
    """Whether the report measures row by row: continuous quasi-identifiers released continuous (K_eps), or
    synthesised groups (the privacy of synthetic rows). ``anonymised``: its rows or its counts' frame."""
    inputs = policy.k_quasi_identifiers
    anon = anonymised.rename(columns={policy.output_name(c): c for c in inputs})
    return bool(policy.groups or _continuous(policy, inputs, anon))


_WIDE_KEYS = ("k_anonymity", "k_percent", "n_classes", "sample_uniques", "sample_unique_share",
              "prosecutor_risk_max", "prosecutor_risk_avg", "n_rows", "n_suppressed")


def all_quasi_identifiers(qi_table: pd.DataFrame | CountedRows, anonymised: pd.DataFrame | CountedRows,
                          policy: Policy,
                          params: dict[str, Any],
                          encoded: tuple[dict[str, EncodedColumn], dict[str, EncodedColumn]] | None = None
                          ) -> dict[str, Any]:
    """K, sample uniques and prosecutor risk over every released quasi-identifier, raw and anonymised, whatever
    set the k target names: what an attacker who knows all of them faces (``encoded``: columns already encoded,
    raw and anonymised)."""
    inputs = policy.quasi_identifiers
    outputs = [policy.output_name(c) for c in inputs]
    # Only class sizes are read of these (not which attribute makes a record unique: a group-by per attribute).
    wide = {"suppressed": params["suppressed"], "suppression_marker": params["suppression_marker"],
            "uniqueness": False}
    raw_encoded, anon_encoded = encoded or (None, None)
    raw = measure(qi_table, inputs, (), raw_encoded, **wide)
    anon = measure(anonymised, outputs, (), anon_encoded, **wide)
    out: dict[str, Any] = {
        "quasi_identifiers": outputs, "narrowed": set(policy.k_quasi_identifiers) != set(inputs),
        "K": anon["k_anonymity"], "sample_unique_share": anon["sample_unique_share"],
        "raw": {k: raw[k] for k in _WIDE_KEYS}, "anonymised": {k: anon[k] for k in _WIDE_KEYS}}
    k = params.get("k")
    if k is not None and anon["k_anonymity"] < k:
        out["warning"] = (f"K over every released quasi-identifier is {anon['k_anonymity']} < k = {k}; "
                          f"{100 * anon['sample_unique_share']:.1f} % of released rows are unique on them")
    return out


def _continuous(policy: Policy, columns: list[str], frame: pd.DataFrame) -> list[str]:
    def is_float(values: pd.Series) -> bool:
        dtype = values.dtype
        return pd.api.types.is_float_dtype(dtype.categories.dtype if isinstance(dtype, pd.CategoricalDtype) else dtype)

    return [c for c in columns if policy.columns[c].dtype == "float" and c in frame.columns and is_float(frame[c])]


def continuous_measures(before: pd.DataFrame, anonymised: pd.DataFrame, policy: Policy) -> dict[str, Any]:
    """K_eps (Borisov et al. 2023) where continuous quasi-identifiers stay continuous, and the privacy of synthetic rows
    (copies of raw rows, closest-record distances) where groups were synthesised. ``before`` is the table the
    groups started from (column steps applied), so both sides share a domain."""
    out: dict[str, Any] = {}
    inputs = policy.k_quasi_identifiers
    anon = anonymised.rename(columns={policy.output_name(c): c for c in inputs})
    continuous = _continuous(policy, inputs, anon)
    if continuous and len(_continuous(policy, continuous, before)) == len(continuous):
        level = float(getattr(policy.privacy, "k_eps_level", None) or 10.0)
        discrete = [c for c in inputs if c not in continuous]
        raw_side, anon_side = k_eps(before, continuous, discrete, level), k_eps(anon, continuous, discrete, level)
        out["k_eps"] = {"level_percent": level, "raw": raw_side.as_dict(), "anonymised": anon_side.as_dict()}
    if policy.groups:
        groups = [[c for c in g.columns if c in continuous] for g in policy.groups]
        out["synthetic_rows"] = privacy_report(before, anon, inputs, [g for g in groups if g], seed=policy.seed)
    return out


def anonymity_markdown(report: dict[str, Any]) -> str:
    lines = []
    wide = report.get("all_quasi_identifiers")
    if wide:
        if wide.get("warning"):
            lines += [f"**Warning:** {wide['warning']}.", ""]
        lines += [f"Over every released quasi-identifier ({', '.join(wide['quasi_identifiers'])}):", "",
                  "| measure | raw | anonymised |", "|---|---|---|"]
        for label, key in (("K", "k_anonymity"), ("sample uniques (share)", "sample_unique_share"),
                           ("prosecutor risk, highest", "prosecutor_risk_max"),
                           ("prosecutor risk, average", "prosecutor_risk_avg")):
            lines.append(f"| {label} | {wide['raw'][key]:.4g} | {wide['anonymised'][key]:.4g} |")
        lines += ["", "Over the k target's quasi-identifiers:", ""]
    lines.append(report_markdown(report))
    if "k_eps" in report:
        ke = report["k_eps"]
        lines += ["", f"K_eps (T = {ke['level_percent']:g} %): raw {ke['raw']['K_eps']}, "
                      f"anonymised {ke['anonymised']['K_eps']}; k = min(K, K_eps)/N: raw "
                      f"{ke['raw']['k_percent']:.4g} %, anonymised {ke['anonymised']['k_percent']:.4g} %"]
    released_as = report.get("released_as", {})
    for step, summary in report.get("steps", {}).items():
        if "chosen_node" in summary or "levels" in summary:
            failed = [n for n in summary.get("lower_neighbours", []) if not n.get("satisfies", True)]
            levels = ", ".join(f"{c}{f' (released as {released_as[c]})' if c in released_as else ''} {level}"
                               for c, level in (summary.get("levels") or {}).items())
            score = summary.get("score")
            lines += ["", f"Search {step}: chose levels {levels} (score "
                          f"{f'{score:.4g}' if isinstance(score, (int, float)) else score}, "
                          f"{summary.get('nodes_checked')} nodes checked in {summary.get('search_seconds', 0):.3f} s, "
                          f"{summary.get('suppressed_rows', 0)} rows suppressed); "
                          f"{len(failed)} lower neighbour(s) fail the criteria"]
    if "synthetic_rows" in report:
        rep = report["synthetic_rows"]["reproductions"]
        lines += ["", f"Synthetic rows reproducing a raw row on every quasi-identifier: {rep['reproduce_raw']} "
                      f"(of a raw row that was unique: {rep['reproduce_unique_raw']})"]
    return "\n".join(lines)
