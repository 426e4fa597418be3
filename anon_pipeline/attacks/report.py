"""All attacks on one release, as a JSON-serialisable dict and as markdown.

Counts, rates, risks and column names only: no value of the data enters the report.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from anon_pipeline.attacks.inference import inference
from anon_pipeline.attacks.linkability import linkability
from anon_pipeline.attacks.linkage import linkage
from anon_pipeline.attacks.singling_out import DEFAULT_MAX_ATTEMPTS, singling_out
from anon_pipeline.attacks.tables import require_columns
from anon_pipeline.errors import InputDataError
from anon_pipeline.jsonable import jsonable

#: a fixed random stream per attack, so adding or skipping one leaves the others' draws unchanged
STREAMS = {"singling_out_univariate": 1, "singling_out_multivariate": 2, "linkability": 3, "inference": 4}
ATTACKS = tuple(STREAMS)


def _halves(columns: list[str]) -> tuple[list[str], list[str]]:
    cut = (len(columns) + 1) // 2
    return columns[:cut], columns[cut:]


def attack_report(original: pd.DataFrame, released: pd.DataFrame, control: pd.DataFrame | None,
                  quasi_identifiers: list[str], secrets: list[str], n_attacks: int = 500, seed: int = 0, *,
                  attacks: tuple[str, ...] = ATTACKS, linkability_columns: tuple[list[str], list[str]] | None = None,
                  inference_aux: list[str] | None = None, n_cols: int = 3, n_neighbors: int = 1,
                  max_attempts: int = DEFAULT_MAX_ATTEMPTS, confidence_level: float = 0.95,
                  generalised_original: pd.DataFrame | None = None) -> dict:
    """Singling-out (univariate, multivariate), linkability and inference risks of ``released``.

    ``original`` holds the records the release was fitted on, ``control`` real records it never saw (same
    columns; None: the risks are the raw attack rates). Attacks use the released columns among
    ``quasi_identifiers`` and ``secrets``; linkability splits the quasi-identifiers into two halves (or
    ``linkability_columns``); inference guesses each secret from every other attacked column (or
    ``inference_aux``). With ``generalised_original`` (the raw records after the release's generalisation) the
    linkage attack runs too. Every random draw derives from ``seed``.
    """
    unknown = set(attacks) - set(ATTACKS)
    if unknown:
        raise ValueError(f"unknown attacks {sorted(unknown)}; known: {list(ATTACKS)}")
    qi = [c for c in dict.fromkeys(quasi_identifiers) if c in released.columns]
    sec = [c for c in dict.fromkeys(secrets) if c in released.columns and c not in qi]
    columns = qi + sec
    tables = {"original": original, "released": released} | ({"control": control} if control is not None else {})
    chosen = [c for half in (linkability_columns or ()) for c in half] + list(inference_aux or [])
    require_columns(tables, list(dict.fromkeys(columns + chosen)))
    sizes = [len(original), len(released)] + ([len(control)] if control is not None else [])
    n = min([n_attacks] + sizes)
    if n < 1 or not columns:
        raise InputDataError(None, f"attacks need rows and released columns: {min(sizes)} row(s) in the smallest "
                             f"table, {len(columns)} attacked column(s)", rule="attack_inputs")
    settings = {"seed": seed, "n_attacks_requested": n_attacks, "n_attacks": n, "confidence_level": confidence_level,
                "quasi_identifiers": qi, "secrets": sec,
                "not_released": [c for c in dict.fromkeys(list(quasi_identifiers) + list(secrets))
                                 if c not in released.columns],
                "rows": {"original": len(original), "released": len(released),
                         "control": len(control) if control is not None else None},
                "control": control is not None, "n_cols": n_cols, "n_neighbors": n_neighbors,
                "max_attempts": max_attempts}
    results, skipped = {}, {}

    def rng(name: str) -> np.random.Generator:
        return np.random.default_rng([seed, STREAMS[name]])

    def run(key: str, fn, *args, **kwargs) -> None:
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        results[key] = result.as_dict() | {"seconds": time.perf_counter() - start}
        warnings.extend(result.warnings())

    warnings: list[str] = []
    common = {"confidence_level": confidence_level}
    for mode in ("univariate", "multivariate"):
        name = f"singling_out_{mode}"
        if name in attacks:
            run(name, singling_out, original, released, control, columns, mode, n, rng(name), n_cols=n_cols,
                max_attempts=max_attempts, **common)
    if "linkability" in attacks:
        aux = linkability_columns or _halves(qi)
        if len(aux) == 2 and aux[0] and aux[1]:
            run("linkability", linkability, original, released, control, (list(aux[0]), list(aux[1])), n,
                rng("linkability"), n_neighbors=n_neighbors, **common)
        else:
            skipped["linkability"] = "needs at least two released quasi-identifiers"
    if "inference" in attacks:
        if not sec:
            skipped["inference"] = "no released secret column"
        for i, secret in enumerate(sec):
            known = [c for c in (inference_aux or columns) if c != secret]
            run(f"inference_{secret}", inference, original, released, control, known, secret, n,
                np.random.default_rng([seed, STREAMS["inference"], i]), **common)
    for name, res in results.items():
        if res.get("queries") is not None and res["queries"] < n:
            warnings.append(f"{name}: only {res['queries']} of {n} singling-out predicates found; the risk is "
                            "underestimated")
    report = {"settings": settings, "attacks": results, "skipped": skipped, "warnings": warnings,
              "linkage": (linkage(released, generalised_original, qi) if generalised_original is not None
                          else None)}
    return jsonable(report)


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def render_markdown(report: dict) -> str:
    s = report["settings"]
    against = "the control split" if s["control"] else "no control split (risk = attack rate)"
    lines = ["## Attack-based privacy evaluation", "",
             f"Giomi et al. (2023) attacks, {s['n_attacks']} attacks each, seed {s['seed']}, "
             f"{int(100 * s['confidence_level'])} % confidence intervals, measured against {against}. "
             f"Rows: original {s['rows']['original']}, released {s['rows']['released']}"
             + (f", control {s['rows']['control']}" if s["control"] else "") + ".", "",
             "| attack | risk | CI | attack rate | control rate | baseline rate |",
             "|---|---|---|---|---|---|"]
    for name, r in report["attacks"].items():
        ci = r["ci"]
        ci_text = "n/a" if ci is None or ci[0] is None else f"{_pct(ci[0])} – {_pct(ci[1])}"
        control = r["control_rate"]["value"] if r["control_rate"] else None
        lines.append(f"| {name} | {_pct(r['risk'])} | {ci_text} | {_pct(r['attack_rate']['value'])} | "
                     f"{_pct(control)} | {_pct(r['baseline_rate']['value'])} |")
    link = report.get("linkage")
    if link:
        lines += ["", f"Linkage on the released quasi-identifiers ({', '.join(link['quasi_identifiers'])}): "
                  f"{link['linked_rows']} of {link['released_rows']} released rows ({_pct(link['linked_share'])}) "
                  f"match exactly one of {link['original_rows']} generalised raw records."]
    for name, why in report.get("skipped", {}).items():
        lines.append(f"\n{name}: not run ({why}).")
    if report.get("warnings"):
        lines += [""] + [f"- warning: {w}" for w in report["warnings"]]
    return "\n".join(lines) + "\n"
