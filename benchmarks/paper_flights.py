"""Reproduce source document C's worked example (flights, 10,000 passengers): synthesis vs noise addition.

Runs policies/flights_synthesis.yaml and policies/flights_noise.yaml on the seeded flights generator, then
prints one table with the paper's figures beside ours: discrete correlations (Cramer's V) and the continuous
correlation raw -> synthetic, KL divergence of synthesis vs noise on (departure), (departure, arrival) and all
five attributes, K and K_eps of raw and synthetic data; then the privacy of the synthetic rows. Ends with one
JSON line of the figures.

    PYTHONPATH=. python benchmarks/paper_flights.py [--seed N] [--mc-samples M]

Until the lead's pipeline runs policies, the column steps and then the group steps are applied here with each
op's fit/apply (the order a policy implies: per-column steps first, then group steps).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

import anon_pipeline.synthesis.ops  # noqa: F401  (registers the synthesis ops)
from anon_pipeline.metrics.k_eps import k_eps
from anon_pipeline.metrics.k_anonymity import k_anonymity
from anon_pipeline.policy import load_policy
from anon_pipeline.policy.load import bind_steps, parse_policy
from anon_pipeline.policy.model import Policy
from anon_pipeline.sample import generate
from anon_pipeline.synthesis.privacy import privacy_report
from anon_pipeline.transforms.registry import FitContext
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


def run_policy(policy: Policy, raw: pd.DataFrame, *, seed: int, column_steps_only: bool = False) -> pd.DataFrame:
    """Column steps, then group steps, each op fitted and applied in turn; returns the kept columns."""
    col_steps, group_steps = bind_steps(policy)
    out = raw.copy()
    for name, steps in col_steps.items():
        for i, bound in enumerate(steps):
            ctx = FitContext(column=name, seed=seed, reference_date=policy.reference_date, step=i)
            plan = bound.op.fit(out[name], ctx)
            out[name] = bound.op.apply(out[name], plan, ctx)
    if not column_steps_only:
        for group in policy.groups:
            for i, bound in enumerate(group_steps[group.name]):
                ctx = FitContext(column=group.name, seed=seed, reference_date=policy.reference_date, step=i)
                frame = out[group.columns]
                plan = bound.op.fit(frame, ctx)
                out[group.columns] = bound.op.apply(frame, plan, ctx)
    return out[[c for c in policy.kept_columns if c in out.columns and policy.columns[c].role.value != "identifier"]]


def variant(policy: Policy, groups: list[dict] | None = None, noise_scale: float | None = None) -> Policy:
    """The same policy file with other groups, or with every gaussian_noise step at another scale."""
    data = yaml.safe_load(policy.path.read_text(encoding="utf-8"))
    if groups is not None:
        data["groups"] = groups
    if noise_scale is not None:
        for spec in data["columns"].values():
            for step in spec.get("steps", []):
                if step["op"] == "gaussian_noise":
                    step["scale"] = noise_scale
    return parse_policy(data, policy.path)


# The paper's own grouping: discrete synthesis of the three discrete attributes, KDE of the continuous pair.
SPLIT = [{"name": "discrete_attributes", "columns": DISCRETE, "steps": [{"op": "discrete_synthesis"}]},
         {"name": "continuous_attributes", "columns": CONTINUOUS, "steps": [{"op": "kde_synthesis"}]}]
# The policy's joint group, leaving discrete tuples unique in the raw data out of the draw.
STRICT = [{"name": "quasi_identifiers", "columns": ALL5,
           "steps": [{"op": "kde_synthesis", "discrete": DISCRETE, "min_count": 2}]}]
NOISE_SCALES = (0.1, 0.25, 0.5)


def kl_figures(raw: pd.DataFrame, anon: pd.DataFrame, mc: int, seed: int) -> dict:
    cont = set(CONTINUOUS)
    parts = {"departure": ["departure_attr"], "departure_arrival": CONTINUOUS, "all5": ALL5}
    return {k: group_kl(raw, anon, cols, cont, seed=seed + i, mc_samples=mc) for i, (k, cols) in enumerate(parts.items())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=None, help="override the policies' seed (default: theirs)")
    ap.add_argument("--mc-samples", type=int, default=5000)
    args = ap.parse_args(argv)
    synth_policy = load_policy(ROOT / "policies" / "flights_synthesis.yaml")
    noise_policy = load_policy(ROOT / "policies" / "flights_noise.yaml")
    seed = synth_policy.seed if args.seed is None else args.seed
    sample = synth_policy.source.sample
    raw_full = generate(sample.generator, sample.rows, seed if args.seed is not None else sample.seed)
    t0 = time.perf_counter()
    # The reference the synthetic table is judged against: the raw data after the deterministic partition.
    raw = run_policy(synth_policy, raw_full, seed=seed, column_steps_only=True)
    synth = run_policy(synth_policy, raw_full, seed=seed)
    noise = run_policy(noise_policy, raw_full, seed=seed)
    again = run_policy(synth_policy, raw_full, seed=seed)
    split = run_policy(variant(synth_policy, SPLIT), raw_full, seed=seed)
    strict = run_policy(variant(synth_policy, STRICT), raw_full, seed=seed)
    sweep = {s: run_policy(variant(noise_policy, noise_scale=s), raw_full, seed=seed) for s in NOISE_SCALES}
    reproducible = bool(synth.equals(again))
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
    level = float(synth_policy.privacy.model_extra.get("k_eps_level", 10))
    ke_split = k_eps(split, CONTINUOUS, DISCRETE, level=level)
    ke_strict = k_eps(strict, CONTINUOUS, DISCRETE, level=level)
    kl_strict = group_kl(raw, strict, ALL5, set(CONTINUOUS), seed=seed, mc_samples=args.mc_samples)
    rep_strict = privacy_report(raw, strict, DISCRETE, seed=seed)["reproductions"]
    kl_sweep = {s: group_kl(raw, d, ALL5, set(CONTINUOUS), seed=seed, mc_samples=args.mc_samples)
                for s, d in sweep.items()}
    ke = {name: k_eps(d, CONTINUOUS, DISCRETE, level=level) for name, d in (("raw", raw), ("synth", synth),
                                                                           ("noise", noise))}
    kd = {name: k_anonymity(d, DISCRETE).K for name, d in (("raw", raw), ("synth", synth), ("noise", noise))}
    privacy = privacy_report(raw, synth, ALL5, [CONTINUOUS], seed=seed)
    privacy_disc = privacy_report(raw, synth, DISCRETE, seed=seed)["reproductions"]
    t_measure = time.perf_counter() - t0

    print(f"flights: N={len(raw)}, seed={seed}, anonymise x3 {t_anon:.2f} s, measures {t_measure:.2f} s, "
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
    print(f"paper's split groups (discrete | continuous): KL " + ", ".join(
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
