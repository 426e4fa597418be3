"""The anonymity report: every measure for the raw quasi-identifier table and the anonymised table, side by side,
as a JSON-ready dict and as markdown.

Only counts and measures leave the raw side. For the anonymised side the generalised values of the smallest
classes are listed (they are what a reviewer needs to see where K comes from); identifier columns never appear.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from anon_pipeline.metrics.encoding import EncodedColumn
from anon_pipeline.metrics.measure import measure

SMALLEST_CLASSES_SHOWN = 5

RECURSIVE_NOTE = ("recursive (c, l): l is the distinct l of the table and c the smallest whole c with "
                  "r1 < c (r_l + ... + r_m) in every class, counts ranked most frequent first (Machanavajjhala et "
                  "al.); the row ranked rarest first is the figure pycanon 1.0.1 gives, kept for comparison "
                  "(recursive_c_l_diversity_pycanon)")


def anonymity_report(raw_df: pd.DataFrame, anon_df: pd.DataFrame, quasi_identifiers: Sequence[str],
                     sensitive_attributes: Sequence[str] = (), *, rename: Mapping[str, str] | None = None,
                     show_smallest: int = SMALLEST_CLASSES_SHOWN,
                     encoded: tuple[Mapping[str, EncodedColumn], Mapping[str, EncodedColumn]] | None = None,
                     **params: Any) -> dict[str, Any]:
    """All measures for ``raw_df`` and ``anon_df``. Names are ``raw_df``'s; ``rename`` maps them to ``anon_df``'s
    column names where they differ. ``params`` go to :func:`~anon_pipeline.metrics.measure.measure` for both;
    ``encoded``: (raw, anonymised) columns already encoded, as ``measure`` takes them."""
    rename = dict(rename or {})
    qis, sas = list(quasi_identifiers), list(sensitive_attributes)
    anon_qis, anon_sas = [rename.get(c, c) for c in qis], [rename.get(c, c) for c in sas]
    raw_encoded, anon_encoded = encoded or (None, None)
    raw = measure(raw_df, qis, sas, raw_encoded, **params)
    anon = measure(anon_df, anon_qis, anon_sas, anon_encoded, show_smallest=show_smallest, **params)
    notes = list(dict.fromkeys([*raw["notes"], *anon["notes"]]))
    notes.append(f"suppressed rows ({params.get('suppressed', 'exclude')}): raw {raw['n_suppressed']}, "
                 f"anonymised {anon['n_suppressed']}; rows removed by the anonymisation: "
                 f"{raw['n_rows_in'] - anon['n_rows_in']}")
    if sas:
        notes.append(RECURSIVE_NOTE)
    return {
        "quasi_identifiers": {"raw": qis, "anonymised": anon_qis},
        "sensitive_attributes": {"raw": sas, "anonymised": anon_sas},
        "notes": notes,
        "raw": raw,
        "anonymised": anon,
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).replace("|", "\\|")
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"
    if isinstance(value, tuple | list):
        return "(" + ", ".join(_fmt(v) for v in value) + ")"
    return str(value).replace("|", "\\|")


_ROWS = [
    ("rows measured", "n_rows"), ("rows suppressed", "n_suppressed"), ("K (k-anonymity)", "k_anonymity"),
    ("smallest class, % of rows (K/N)", "k_percent"), ("equivalence classes", "n_classes"), ("risk category (from K)", "category"),
    ("rows in classes below k", "rows_below_k"), ("classes below k", "classes_below_k"),
    ("l (distinct l-diversity)", "l_diversity"), ("entropy l-diversity (floor)", "entropy_l_diversity"),
    ("entropy l-diversity (exp of min entropy)", "entropy_l_diversity_exact"),
    ("recursive (c, l)-diversity", "recursive_c_l_diversity"),
    ("recursive (c, l), counts ranked rarest first", "recursive_c_l_diversity_pycanon"),
    ("t-closeness (max EMD)", "t_closeness"), ("delta-disclosure", "delta_disclosure"),
    ("basic beta-likeness", "basic_beta_likeness"), ("enhanced beta-likeness", "enhanced_beta_likeness"),
    ("(alpha, k)-anonymity", "alpha_k_anonymity"),
    ("prosecutor risk, highest", "prosecutor_risk_max"), ("prosecutor risk, average", "prosecutor_risk_avg"),
    ("records at risk (share)", "records_at_risk_share"), ("marketer risk", "marketer_risk"),
    ("sample uniques (share)", "sample_unique_share"),
]


def report_markdown(report: dict[str, Any]) -> str:
    """The report as markdown: the side-by-side table, per-attribute and per-quasi-identifier detail, the
    smallest anonymised classes and the notes."""
    raw, anon = report["raw"], report["anonymised"]
    # List items: two plain lines would render as one paragraph.
    lines = [f"- Quasi-identifiers: {', '.join(report['quasi_identifiers']['anonymised'])}"]
    if report["sensitive_attributes"]["anonymised"]:
        lines.append(f"- Sensitive attributes: {', '.join(report['sensitive_attributes']['anonymised'])}")
    lines += ["", "| measure | raw | anonymised |", "|---|---|---|"]
    for label, key in _ROWS:
        if key in raw or key in anon:
            if key == "records_at_risk_share":
                label = f"records with risk > {_fmt(anon.get('risk_threshold'))} (share)"
            if key in ("rows_below_k", "classes_below_k"):
                label = label.replace("below k", f"below k={anon.get('k_target')}")
            lines.append(f"| {label} | {_fmt(raw.get(key))} | {_fmt(anon.get(key))} |")
    if len(report["sensitive_attributes"]["anonymised"]) > 1:
        lines += ["", "Per sensitive attribute (raw -> anonymised):", "",
                  "| attribute | l | entropy l | t | delta | beta |", "|---|---|---|---|---|---|"]
        for r_name, a_name in zip(report["sensitive_attributes"]["raw"], report["sensitive_attributes"]["anonymised"]):
            r, a = raw["per_attribute"].get(r_name, {}), anon["per_attribute"].get(a_name, {})
            cells = [f"{_fmt(r.get(k))} -> {_fmt(a.get(k))}" for k in
                     ("l_diversity", "entropy_l_diversity_exact", "t_closeness", "delta_disclosure",
                      "basic_beta_likeness")]
            lines.append(f"| {a_name} | " + " | ".join(cells) + " |")
    r_uniq, a_uniq = raw.get("uniques_resolved_without") or {}, anon.get("uniques_resolved_without") or {}
    if r_uniq or a_uniq:
        lines += ["", "Sample-unique records that stop being unique when one quasi-identifier is left out:", "",
                  "| left out | raw | anonymised |", "|---|---|---|"]
        for r_name, a_name in zip(report["quasi_identifiers"]["raw"], report["quasi_identifiers"]["anonymised"]):
            lines.append(f"| {a_name} | {_fmt(r_uniq.get(r_name))} | {_fmt(a_uniq.get(a_name))} |")
    smallest = anon.get("smallest_classes") or []
    if smallest:
        cols = list(smallest[0]["values"])
        lines += ["", "Smallest classes of the anonymised table (generalised values):", "",
                  "| size | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        for cls in smallest:
            lines.append(f"| {cls['size']} | " + " | ".join(_fmt(cls["values"][c]) for c in cols) + " |")
    lines += ["", *[f"- {note}" for note in report["notes"]]]
    return "\n".join(lines)
