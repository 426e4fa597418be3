"""Benchmark: optimal generalisation of adult (9 quasi-identifiers) against ARX's optima and ANJANA.

Per row of issue 5's table plus k = 2, 5, 10 with 0 % and 2 % suppression (ARX's default Loss model): our
levels, score, suppressed rows, nodes checked and search time (median of ``--repeats`` runs, in process, data
already loaded; the time includes encoding the data and hierarchies, as an ARX run does). ANJANA (PyPI
``anjana``, a greedy k-anonymity generaliser, not an optimiser) runs the k-only rows in the same process; its
chosen node is scored with our model for comparison. Ratios are printed against ARX's quoted times on this
machine (80 ms for k=5 at 0 %, 1.7 s at 2 %). The last line is one JSON object with every figure.

    python benchmarks/search_adult.py [--repeats 5] [--anjana-repeats 5] [--no-anjana]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import warnings
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared timing helper

from timing import median_time  # noqa: E402
from anon_pipeline.hierarchies import load_arx_csv  # noqa: E402
from anon_pipeline.search import optimal  # noqa: E402
from anon_pipeline.search.criteria import Criteria  # noqa: E402
from anon_pipeline.search.optimal import evaluate_levels  # noqa: E402
from anon_pipeline.search.problem import encode_problem  # noqa: E402

ADULT = ROOT.parent / "shared" / "data" / "adult"
COLUMNS = ["sex", "age", "race", "marital-status", "education", "native-country", "workclass", "occupation",
           "salary-class"]
ARX_TIMES = {("k=5", 0.0, "loss"): 0.080, ("k=5", 0.02, "loss"): 1.7}

ROWS = [  # name, criteria, suppression, quality, ARX levels, ARX score
    ("k=5", dict(k=5), 0.0, "nu_entropy", [1, 2, 1, 1, 3, 2, 2, 1, 1], 407289.5388925293),
    ("k=5", dict(k=5), 0.04, "nu_entropy", [1, 0, 1, 1, 3, 2, 2, 0, 1], 255559.85455731067),
    ("k=100", dict(k=100), 0.0, "nu_entropy", [0, 4, 1, 1, 3, 2, 2, 1, 1], 453196.8932458743),
    ("entropy l=5 (occupation)", dict(l=5, l_variant="entropy", sensitive="occupation"), 0.04, "nu_entropy_nm",
     [1, 0, 1, 1, 2, 2, 2, 1], 228878.2039109517),
    ("k=5", dict(k=5), 0.0, "loss", [0, 4, 1, 1, 3, 2, 2, 1, 0], 0.5731509655590044),
    ("k=5", dict(k=5), 0.02, "loss", [0, 3, 0, 2, 2, 1, 1, 2, 0], 0.3137130352819242),
    ("k=2", dict(k=2), 0.0, "loss", None, None),
    ("k=2", dict(k=2), 0.02, "loss", None, None),
    ("k=10", dict(k=10), 0.0, "loss", None, None),
    ("k=10", dict(k=10), 0.02, "loss", None, None),
]




def run_anjana(df: pd.DataFrame, k: int, suppression: float, repeats: int):
    """ANJANA's k_anonymity, or the reason it cannot run here."""
    try:
        from anjana.anonymity import k_anonymity
        from anjana.anonymity.utils import utils
    except ImportError as exc:
        return {"error": f"anjana not importable: {exc}"}
    hierarchies = {}
    for c in COLUMNS:
        h = load_arx_csv(ADULT / f"adult_hierarchy_{c}.csv")
        hierarchies[c] = {i: h[i].to_numpy(dtype=object) for i in h.columns}
    try:
        # ANJANA's type checks reject pandas 3's Arrow-backed strings: give it object columns.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas warns that the option is deprecated
            with pd.option_context("future.infer_string", False):
                data = df.astype(object)

                def call():
                    with contextlib.redirect_stdout(io.StringIO()):
                        return k_anonymity(data, [], COLUMNS, k, suppression * 100, hierarchies)

                seconds, out = median_time(call, repeats)
                levels = utils.get_transformation(out, COLUMNS, hierarchies)
    except Exception as exc:  # noqa: BLE001 -- report any failure of the peer instead of aborting the run
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"levels": [int(x) for x in levels], "suppressed": int(len(df) - len(out)), "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--anjana-repeats", type=int, default=5)
    parser.add_argument("--no-anjana", action="store_true")
    args = parser.parse_args()
    if not ADULT.exists():
        sys.exit(f"needs {ADULT}")
    df = pd.read_csv(ADULT / "adult.csv", sep=";", dtype=str, keep_default_na=False)
    paths = {c: ADULT / f"adult_hierarchy_{c}.csv" for c in COLUMNS}
    frames = {c: load_arx_csv(p) for c, p in paths.items()}
    figures = []
    print(f"adult: {len(df)} rows, {len(COLUMNS)} quasi-identifiers; median of {args.repeats} runs")
    for name, criteria, limit, quality, arx_levels, arx_score in ROWS:
        hierarchies = {c: h for c, h in frames.items() if c != criteria.get("sensitive")}
        seconds, result = median_time(lambda: optimal(df, hierarchies, suppression_limit=limit, quality=quality,
                                                      **criteria), args.repeats)
        levels = list(result.levels.values())
        row = {"criteria": name, "suppression": limit, "quality": quality, "levels": levels,
               "score": result.score, "suppressed": result.suppressed, "nodes_checked": result.nodes_checked,
               "seconds": seconds}
        line = (f"{name:<26} {limit:>4.0%} {quality:<13} levels={levels} score={result.score:.10g} "
                f"suppressed={result.suppressed} checked={result.nodes_checked} time={seconds * 1e3:.1f} ms")
        if arx_levels is not None:
            row["arx_levels_match"] = levels == arx_levels
            row["arx_score_rel_diff"] = abs(result.score - arx_score) / abs(arx_score)
            line += f" | ARX levels {'match' if levels == arx_levels else 'DIFFER'}, rel diff {row['arx_score_rel_diff']:.1e}"
        arx_time = ARX_TIMES.get((name, limit, quality))
        if arx_time is not None:
            row["ratio_to_arx_time"] = seconds / arx_time
            line += f" | ours/ARX time = {seconds / arx_time:.2f} (ARX {arx_time * 1e3:.0f} ms)"
        print(line)
        if not args.no_anjana and set(criteria) == {"k"}:
            peer = run_anjana(df, criteria["k"], limit, args.anjana_repeats)
            if "error" not in peer:
                problem = encode_problem(df, hierarchies, Criteria(k=criteria["k"]), None, limit)
                score, suppressed_ours, ok = evaluate_levels(problem, peer["levels"], quality)
                peer.update({"score_in_our_model": score, "meets_k_within_limit": ok,
                             "ratio_ours_to_anjana_time": seconds / peer["seconds"]})
                print(f"{'  ANJANA':<26} {'':>4} {'':<13} levels={peer['levels']} score={score:.10g} "
                      f"suppressed={peer['suppressed']} time={peer['seconds'] * 1e3:.1f} ms | "
                      f"ours/ANJANA time = {seconds / peer['seconds']:.4f}")
            else:
                print(f"  ANJANA: {peer['error']}")
            row["anjana"] = peer
        figures.append(row)
    print(json.dumps({"benchmark": "search_adult", "repeats": args.repeats, "rows": figures}))


if __name__ == "__main__":
    main()
