"""Benchmark of the privacy-model engine (``anon_pipeline.metrics``) against pycanon, and its scaling.

1. Adult (../shared/data/adult, 8 quasi-identifiers, ``occupation`` sensitive): the time of every measure for us
   (median of ``--repeats`` runs, each from the DataFrame, encoding included) and for pycanon 1.0.1 (one run:
   it needs minutes), the ratio, and whether the values agree; then the full set: our ``measure()`` (every
   measure plus risk and per-QI uniqueness) against the sum of pycanon's functions.
2. Generated tables of 1e5, 1e6 and 1e7 rows, 8 quasi-identifiers with adult's cardinalities and skewed
   frequencies, one sensitive attribute of 14 values: our time for K + l + t and for the full ``measure()``,
   peak memory of K + l + t (tracemalloc peak and the rise of the resident-set high-water mark, each in a fresh
   process), against the size of the encoded columns (nine int32 code arrays), and the growth exponents.

Targets (issue 3): >= 50x faster than pycanon for the full set on adult; K + l + t on 1e7 rows < 20 s; memory
< 3x the encoded columns. Ends with one JSON line of the figures.

    python benchmarks/metrics.py [--sizes 1e5,1e6,1e7] [--repeats 5] [--pycanon raw|generalised|skip]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared timing helper

from timing import median_time  # noqa: E402
from anon_pipeline.metrics import diversity as dv  # noqa: E402
from anon_pipeline.metrics import measure, prepare  # noqa: E402
from anon_pipeline.metrics.encoding import encode_frame  # noqa: E402
from anon_pipeline.metrics.k_anonymity import k_from_sizes  # noqa: E402

ADULT = ROOT.parent / "shared" / "data" / "adult"
QIS = ["sex", "age", "race", "marital-status", "education", "native-country", "workclass", "salary-class"]
SA = ["occupation"]
CARDINALITIES = [2, 72, 5, 7, 16, 41, 7, 2]




# ---- our measures, one at a time, each from the DataFrame ---------------------------------------------------
def _ct(df, qis, sas):
    return prepare(df, qis, sas).contingency(sas[0])


def our_measures(df: pd.DataFrame, qis: list[str], sas: list[str]) -> dict:
    def recursive():
        tab = prepare(df, qis, sas)
        ct = tab.contingency(sas[0])
        l_value = int(dv.distinct_per_class(ct).min())
        c = dv.smallest_c(ct, l_value, "ascending") if l_value > 1 else float("nan")
        return (c, l_value)

    def alpha_k():
        tab = prepare(df, qis, sas)
        return (dv.alpha(tab.contingency(sas[0])), int(tab.sizes.min()))

    return {
        "k_anonymity": lambda: int(prepare(df, qis).sizes.min()),
        "l_diversity": lambda: int(dv.distinct_per_class(_ct(df, qis, sas)).min()),
        "entropy_l_diversity": lambda: int(dv.entropy_l(_ct(df, qis, sas)) * (1 + 1e-12)),
        "recursive_c_l_diversity": recursive,
        "t_closeness": lambda: float(dv.t_closeness_per_class(_ct(df, qis, sas), False).max()),
        "delta_disclosure": lambda: dv.delta_disclosure(_ct(df, qis, sas)),
        "basic_beta_likeness": lambda: dv.basic_beta(_ct(df, qis, sas)),
        "enhanced_beta_likeness": lambda: dv.enhanced_beta(_ct(df, qis, sas)),
        "alpha_k_anonymity": alpha_k,
    }


def _agree(ours, theirs) -> bool:
    if isinstance(theirs, tuple):
        return all(_agree(a, b) for a, b in zip(ours, theirs))
    if isinstance(theirs, float):
        if math.isnan(theirs):
            return isinstance(ours, float) and math.isnan(ours)
        return math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-12)
    return ours == theirs


def _generalised_adult(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for column, level in {"age": 2, "race": 1, "marital-status": 1, "education": 2, "native-country": 1,
                          "workclass": 1}.items():
        h = pd.read_csv(ADULT / f"adult_hierarchy_{column}.csv", sep=";", header=None, dtype=str)
        out[column] = df[column].astype(str).map(dict(zip(h[0], h[level])))
    return out


def bench_adult(repeats: int, which: str) -> dict:
    df = pd.read_csv(ADULT / "adult.csv", sep=";")
    if which == "generalised":
        df = _generalised_adult(df)
    print(f"\n== adult ({which}): {len(df)} rows, QIs {QIS}, sensitive {SA}")
    ours = our_measures(df, QIS, SA)
    pycanon = None
    if which != "skip":
        from pycanon import anonymity as pycanon
    rows, figures = [], {}
    print(f"{'measure':26} {'ours (ms)':>10} {'pycanon (s)':>12} {'ratio':>9}  agree  value")
    for name, fn in ours.items():
        t_ours, value = median_time(fn, repeats)
        t_theirs, theirs = float("nan"), None
        if pycanon is not None:
            f = getattr(pycanon, name)
            start = time.perf_counter()
            theirs = f(df, QIS) if name == "k_anonymity" else f(df, QIS, SA)
            t_theirs = time.perf_counter() - start
        agree = None if theirs is None else _agree(value, theirs)
        ratio = t_theirs / t_ours
        figures[name] = {"ours_s": t_ours, "pycanon_s": t_theirs, "ratio": ratio, "agree": agree}
        rows.append(t_theirs)
        print(f"{name:26} {t_ours * 1e3:10.2f} {t_theirs:12.2f} {ratio:9.0f}  {agree!s:5}  {value}", flush=True)
    t_full, _ = median_time(lambda: measure(df, QIS, SA), repeats)
    pycanon_total = float(sum(rows))
    figures["full_set"] = {"ours_s": t_full, "pycanon_s": pycanon_total, "ratio": pycanon_total / t_full}
    print(f"{'full set: measure()':26} {t_full * 1e3:10.2f} {pycanon_total:12.2f} "
          f"{pycanon_total / t_full:9.0f}  (pycanon: sum of its nine functions)")
    return figures


# ---- generated tables -----------------------------------------------------------------------------------------
def generated_table(n: int, seed: int = 0) -> pd.DataFrame:
    """8 QIs with adult's cardinalities (age as int, the rest as strings) and Zipf-like frequencies."""
    rng = np.random.default_rng(seed)

    def draw(card: int) -> np.ndarray:
        p = 1 / np.arange(1, card + 1) ** 1.1
        return rng.choice(card, n, p=p / p.sum())

    cols: dict[str, object] = {}
    for i, card in enumerate(CARDINALITIES):
        codes = draw(card)
        cols[f"q{i}"] = codes + 17 if card == 72 else pd.Series(
            np.array([f"value{j}" for j in range(card)])[codes], dtype="str")
    cols["s"] = pd.Series(np.array([f"occupation{j}" for j in range(14)])[draw(14)], dtype="str")
    return pd.DataFrame(cols)


GEN_QIS = [f"q{i}" for i in range(8)]


def k_l_t(df: pd.DataFrame) -> tuple[int, int, float]:
    tab = prepare(df, GEN_QIS, ["s"], uniqueness=False)
    ct = tab.contingency("s")
    return (k_from_sizes(tab.sizes, GEN_QIS, tab.n_rows).K, int(dv.distinct_per_class(ct).min()),
            float(dv.t_closeness_per_class(ct, tab.ordered("s")).max()))


def _hwm_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def worker(n: int, repeats: int, mode: str) -> dict:
    df = generated_table(n)
    if mode == "rss":
        Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark to the current RSS
        before = _rss_bytes()
        k_l_t(df)
        return {"rss_rise": _hwm_bytes() - before}
    if mode == "tracemalloc":
        tracemalloc.start()
        k_l_t(df)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        encoded = sum(c.codes.nbytes for c in encode_frame(df, GEN_QIS + ["s"]).values())
        return {"tracemalloc_peak": peak, "encoded_bytes": encoded}
    t_klt, (k, l_value, t) = median_time(lambda: k_l_t(df), repeats)
    t_full, m = median_time(lambda: measure(df, GEN_QIS, ["s"]), 1)
    return {"n": n, "klt_s": t_klt, "full_s": t_full, "K": k, "l": l_value, "t": t, "classes": m["n_classes"]}


def run_worker(n: int, repeats: int, mode: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--worker", str(n), "--repeats", str(repeats), "--mode", mode],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def slope(xs: list[float], ys: list[float]) -> float:
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def bench_scaling(sizes: list[int], repeats: int) -> dict:
    print(f"\n== generated tables: 8 QIs (cardinalities {CARDINALITIES}), 1 sensitive attribute of 14 values")
    print(f"{'rows':>10} {'classes':>9} {'K+l+t (s)':>10} {'full (s)':>9} {'tracemalloc':>12} {'RSS rise':>10} "
          f"{'encoded':>10} {'peak/enc':>9}")
    rows = []
    for n in sizes:
        r = run_worker(n, repeats if n < 10**7 else max(1, min(repeats, 3)), "time")
        r.update(run_worker(n, 1, "tracemalloc"))
        r.update(run_worker(n, 1, "rss"))
        r["peak_bytes"] = max(r["tracemalloc_peak"], r["rss_rise"])
        r["peak_over_encoded"] = r["peak_bytes"] / r["encoded_bytes"]
        rows.append(r)
        print(f"{n:>10} {r['classes']:>9} {r['klt_s']:10.2f} {r['full_s']:9.2f} "
              f"{r['tracemalloc_peak'] / 2**20:10.0f}MB {r['rss_rise'] / 2**20:8.0f}MB "
              f"{r['encoded_bytes'] / 2**20:8.0f}MB {r['peak_over_encoded']:9.2f}", flush=True)
    out = {"rows": rows}
    if len(rows) > 1:
        ns = [r["n"] for r in rows]
        out["time_exponent_klt"] = slope(ns, [r["klt_s"] for r in rows])
        out["time_exponent_full"] = slope(ns, [r["full_s"] for r in rows])
        out["memory_exponent"] = slope(ns, [r["peak_bytes"] for r in rows])
        print(f"growth exponents (log-log slope): K+l+t time {out['time_exponent_klt']:.2f}, full time "
              f"{out['time_exponent_full']:.2f}, peak memory {out['memory_exponent']:.2f}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1e5,1e6,1e7")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--pycanon", choices=["raw", "generalised", "skip"], default="raw")
    ap.add_argument("--worker", type=int)
    ap.add_argument("--mode", default="time")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.repeats, args.mode)))
        return
    figures: dict = {}
    if ADULT.exists():
        figures["adult"] = bench_adult(args.repeats, args.pycanon)
    else:
        print(f"(adult comparison skipped: {ADULT} is absent)")
    figures["scaling"] = bench_scaling([int(float(s)) for s in args.sizes.split(",")], args.repeats)
    largest = figures["scaling"]["rows"][-1]
    figures["targets"] = {
        "full_set_ratio_ge_50": figures.get("adult", {}).get("full_set", {}).get("ratio", float("nan")) >= 50,
        "klt_largest_s": largest["klt_s"], "klt_largest_under_20s": largest["klt_s"] < 20,
        "peak_over_encoded_largest": largest["peak_over_encoded"], "memory_under_3x": largest["peak_over_encoded"] < 3,
    }
    print("\n" + json.dumps(figures, default=lambda o: None if o is None else str(o)))


if __name__ == "__main__":
    main()
