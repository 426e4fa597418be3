"""Reproduce the flights example of Borisov, Bosov and Ivanov (2023), 10,000 passengers: synthesis vs noise addition.

Runs policies/flights_synthesis.yaml and policies/flights_noise.yaml on the seeded flights generator, then
prints one table with the paper's figures beside ours: discrete correlations (Cramer's V) and the continuous
correlation raw -> synthetic, KL divergence of synthesis vs noise on (departure), (departure, arrival) and all
five attributes, K and K_eps of raw and synthetic data; then the privacy of the synthetic rows. Ends with one
JSON line of the figures.

    PYTHONPATH=. python benchmarks/paper_flights.py [--seed N] [--mc-samples M]

Every table comes from the pipeline's ``run_policy`` (plain Python, no Dagster) in a temporary work folder; the
raw reference is the same policy without its groups (the raw data after the deterministic age partition).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import pandas as pd


from anon_pipeline.metrics.k_eps import k_eps
from anon_pipeline.metrics.k_anonymity import k_anonymity
from anon_pipeline.policy import load_policy
from anon_pipeline.pipeline.qi_table import GUID
from anon_pipeline.pipeline.run import run_policy
from anon_pipeline.policy.load import parse_policy
from anon_pipeline.policy.model import Policy
from anon_pipeline.synthesis.privacy import privacy_report
from anon_pipeline.utility.association import cramers_v, pearson
from anon_pipeline.utility.report import group_kl

ROOT = Path(__file__).resolve().parents[1]
DISCRETE = ["age", "departure_airport", "airline"]
CONTINUOUS = ["departure_attr", "arrival_attr"]
ALL5 = DISCRETE + CONTINUOUS
PAPER = {"corr": {("age", "departure_airport"): (0.021, 0.059), ("age", "airline"): (0.077, 0.06),
                  ("departure_airport", "airline"): (0.03, 0.029), ("departure_attr", "arrival_attr"): (0.966, 0.931)},
         "kl": {"departure": (0.396, 0.537), "departure_arrival": (0.315, 0.427), "all5": (0.129, 1.725)},
         "K_raw": 1, "K_synthesis": 1, "K_eps_raw": 1, "K_eps_synthesis": 3}


def anonymised(policy: Policy, workdir: Path) -> pd.DataFrame:
    """The policy's staging table from the pipeline (run_policy), without its GUID column, in canonical order
    (so the Monte Carlo draws, which pick rows by position, are reproducible from the seed too)."""
    return canonical(run_policy(policy, workdir=workdir).anonymised.drop(columns=[GUID]))


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows leave the pipeline in random GUID order: compare tables as sorted multisets of rows."""
    return frame.sort_values(list(frame.columns), ignore_index=True)


def variant(policy: Policy, seed: int | None, groups: list[dict] | None = None,
            noise_scale: float | None = None) -> Policy:
    """The same policy with another seed (policy and sample), other groups, or every gaussian_noise step at
    another scale."""
    data = policy.model_dump(mode="json", exclude_none=True)
    if seed is not None:
        data["seed"] = seed
        data["source"]["sample"]["seed"] = seed
    if groups is not None:
        data["groups"] = groups
    if noise_scale is not None:
        for spec in data["columns"].values():
            for step in spec.get("steps", []):
                if step["op"] == "gaussian_noise":
                    step["params"]["scale"] = noise_scale
    return parse_policy(data, policy.path)


# The paper's own grouping: discrete synthesis of the three discrete attributes, KDE of the continuous pair.
SPLIT = [{"name": "discrete_attributes", "columns": DISCRETE, "steps": [{"op": "discrete_synthesis"}]},
         {"name": "continuous_attributes", "columns": CONTINUOUS, "steps": [{"op": "kde_synthesis"}]}]
# The policy's joint group, leaving discrete tuples unique in the raw data out of the draw.
STRICT = [{"name": "quasi_identifiers", "columns": ALL5,
           "steps": [{"op": "kde_synthesis", "discrete": DISCRETE, "min_count": 2}]}]
NOISE_SCALES = (0.1, 0.25, 0.5)


def kl_figures(raw: pd.DataFrame, anon: pd.DataFrame, mc: int, seed: int, only: tuple[str, ...] = ()) -> dict:
    """KL of the paper's three attribute sets; each set has its own Monte Carlo seed, the same for every table."""
    parts = {"departure": ["departure_attr"], "departure_arrival": CONTINUOUS, "all5": ALL5}
    return {k: group_kl(raw, anon, cols, set(CONTINUOUS), seed=seed + i, mc_samples=mc)
            for i, (k, cols) in enumerate(parts.items()) if not only or k in only}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=None, help="override the policies' seed (default: theirs)")
    ap.add_argument("--mc-samples", type=int, default=5000)
    args = ap.parse_args(argv)
    synth_policy = variant(load_policy(ROOT / "policies" / "flights_synthesis.yaml"), args.seed)
    noise_policy = variant(load_policy(ROOT / "policies" / "flights_noise.yaml"), args.seed)
    seed = synth_policy.seed
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # The reference the synthetic table is judged against: the raw data after the deterministic partition.
        raw = anonymised(variant(synth_policy, None, groups=[]), work)
        synth = anonymised(synth_policy, work)
        noise = anonymised(noise_policy, work)
        reproducible = bool(synth.equals(anonymised(synth_policy, work)))
        split = anonymised(variant(synth_policy, None, SPLIT), work)
        strict = anonymised(variant(synth_policy, None, STRICT), work)
        sweep = {s: anonymised(variant(noise_policy, None, noise_scale=s), work) for s in NOISE_SCALES}
    t_anon = time.perf_counter() - t0

    t0 = time.perf_counter()
    corr = {}
    for a, b in PAPER["corr"]:
        f = (lambda d: pearson(d[a].to_numpy(float), d[b].to_numpy(float))) if a in CONTINUOUS else \
            (lambda d: cramers_v(d[a], d[b]))
        corr[(a, b)] = (f(raw), f(synth), f(noise))
    kl_s = kl_figures(raw, synth, args.mc_samples, seed)
    kl_n = kl_figures(raw, noise, args.mc_samples, seed)
    kl_split = kl_figures(raw, split, args.mc_samples, seed)
    level = float(synth_policy.privacy.k_eps_level or 10)
    ke_split = k_eps(split, CONTINUOUS, DISCRETE, level=level)
    ke_strict = k_eps(strict, CONTINUOUS, DISCRETE, level=level)
    kl_strict = kl_figures(raw, strict, args.mc_samples, seed, ("all5",))["all5"]
    rep_strict = privacy_report(raw, strict, DISCRETE, seed=seed)["reproductions"]
    kl_sweep = {s: kl_figures(raw, d, args.mc_samples, seed, ("all5",))["all5"] for s, d in sweep.items()}
    ke = {name: k_eps(d, CONTINUOUS, DISCRETE, level=level) for name, d in (("raw", raw), ("synth", synth),
                                                                           ("noise", noise))}
    kd = {name: k_anonymity(d, DISCRETE).K for name, d in (("raw", raw), ("synth", synth), ("noise", noise))}
    privacy = privacy_report(raw, synth, ALL5, [CONTINUOUS], seed=seed)
    privacy_disc = privacy_report(raw, synth, DISCRETE, seed=seed)["reproductions"]
    t_measure = time.perf_counter() - t0

    print(f"flights: N={len(raw)}, seed={seed}, pipeline runs x9 {t_anon:.2f} s, measures {t_measure:.2f} s, "
          f"KL by Monte Carlo with M={args.mc_samples} (standard error in brackets)")
    print(f"{'figure':46s} {'paper':>16s} {'ours':>26s}")
    for (a, b), (p_raw, p_syn) in PAPER["corr"].items():
        r, s, _ = corr[(a, b)]
        kind = "r" if a in CONTINUOUS else "V"
        print(f"{kind}({a}, {b}) raw -> synthetic".ljust(46) + f" {p_raw:7.3f} -> {p_syn:5.3f} "
              f"{r:12.3f} -> {s:.3f}")
    for key, (p_s, p_n) in PAPER["kl"].items():
        s, n = kl_s[key], kl_n[key]
        print(f"KL {key}: synthesis vs noise".ljust(46) + f" {p_s:7.3f} vs {p_n:5.3f} "
              f"{s['value']:6.3f}({s['standard_error']:.3f}) vs {n['value']:.3f}({n['standard_error']:.3f})")
    print(f"{'K (all five) raw / synthetic':46s} {PAPER['K_raw']:7d} / {PAPER['K_synthesis']:<5d} "
          f"{ke['raw'].K:12d} / {ke['synth'].K}")
    print(f"{'K_eps (T=%g %%) raw / synthetic' % level:46s} {PAPER['K_eps_raw']:7d} / {PAPER['K_eps_synthesis']:<5d} "
          f"{ke['raw'].K_eps:12d} / {ke['synth'].K_eps}")
    print(f"{'K (discrete three) raw / synthetic':46s} {1:7d} / {'-':5s} {kd['raw']:12d} / {kd['synth']}")
    print("paper's split groups (discrete | continuous): KL " + ", ".join(
        f"{k} {v['value']:.3f}({v['standard_error']:.3f})" for k, v in kl_split.items()) +
        f"; r {pearson(split['departure_attr'].to_numpy(float), split['arrival_attr'].to_numpy(float)):.3f}, "
        f"K_eps {ke_split.K_eps}")
    print(f"joint group with min_count=2 (raw-unique discrete tuples left out): KL all5 "
          f"{kl_strict['value']:.3f}({kl_strict['standard_error']:.3f}), K_eps {ke_strict.K_eps}, K (discrete) "
          f"{k_anonymity(strict, DISCRETE).K}, rows reproducing a raw-unique discrete tuple "
          f"{rep_strict['reproduce_unique_raw']}")
    print("noise KL all5 by noise scale (fraction of sigma): " + ", ".join(
        f"{s:g}: {v['value']:.3f}({v['standard_error']:.3f})" for s, v in kl_sweep.items()))
    print(f"noise baseline: r(departure, arrival) {corr[('departure_attr', 'arrival_attr')][2]:.3f}, "
          f"K_eps {ke['noise'].K_eps}, K (discrete) {kd['noise']}")
    rep = privacy["reproductions"]
    dcr = privacy["closest_record"][0]
    print(f"synthetic rows reproducing a raw row on all five QIs: {rep['reproduce_raw']} "
          f"(of a unique raw row: {rep['reproduce_unique_raw']}); on the discrete three: "
          f"{privacy_disc['reproduce_raw']} (unique raw: {privacy_disc['reproduce_unique_raw']})")
    print(f"distance to closest raw row (continuous pair, sigma units): median {dcr['median']:.4f} "
          f"({dcr['median_ratio']:.2f} x raw-to-raw), 5th pct {dcr['p05']:.4f} ({dcr['p05_ratio']:.2f} x)")

    r_raw, r_syn, _ = corr[("departure_attr", "arrival_attr")]
    checks = {"continuous correlation within 0.05 of raw": abs(r_syn - r_raw) <= 0.05,
              "synthesis KL < noise KL on all five": kl_s["all5"]["value"] < kl_n["all5"]["value"],
              "reproducible from the seed": reproducible}
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}: {name}")
    result = {"corr_raw": r_raw, "corr_synthesis": r_syn,
              "kl_synthesis": {k: v["value"] for k, v in kl_s.items()},
              "kl_noise": {k: v["value"] for k, v in kl_n.items()},
              "kl_synthesis_split_groups": {k: v["value"] for k, v in kl_split.items()},
              "kl_all5_noise_by_scale": {str(k): v["value"] for k, v in kl_sweep.items()},
              "kl_all5_min_count_2": kl_strict["value"], "K_eps_min_count_2": ke_strict.K_eps,
              "kl_standard_error_synthesis": {k: v["standard_error"] for k, v in kl_s.items()},
              "kl_standard_error_noise": {k: v["standard_error"] for k, v in kl_n.items()},
              "mc_samples": args.mc_samples,
              "K_raw": ke["raw"].K, "K_synthesis": ke["synth"].K,
              "K_eps_raw": ke["raw"].K_eps, "K_eps_synthesis": ke["synth"].K_eps,
              "K_discrete_raw": kd["raw"], "K_discrete_synthesis": kd["synth"],
              "reproductions_of_unique_raw": rep["reproduce_unique_raw"],
              "dcr_median_ratio": dcr["median_ratio"], "checks": checks, "seed": seed}
    print(json.dumps(result))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
