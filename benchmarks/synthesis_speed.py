"""Speed and memory of synthesis and its reports at 1,000,000 rows x 10 attributes.

Data: two continuous groups of two correlated attributes each and six discrete attributes (synthesised as one
discrete group). Timed: the registered ops' fit + apply (median of 3 runs), against a peer measured in the
same run (scipy gaussian_kde.resample for the continuous groups plus pandas DataFrame.sample for the discrete
group: the library way to draw the same distributions); then the utility report, the privacy report, and
K_eps on 1,000,000 rows x 2 continuous attributes (against scipy cKDTree neighbour counts for every row,
compared on a 100,000-row subsample, where that peer still finishes). Peak memory by tracemalloc (numpy and
pandas buffers are traced), in separate runs from the timings.

    PYTHONPATH=. python benchmarks/synthesis_speed.py [--rows N] [--seed S]

Targets (issue 4): synthesis < 10 s; K_eps on 1e6 x 2 < 30 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import sys
import tracemalloc
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree
from scipy.stats import gaussian_kde

from anon_pipeline.metrics.k_eps import k_eps
from anon_pipeline.synthesis.ops import DiscreteSynthesis, KdeSynthesis
from anon_pipeline.synthesis.privacy import privacy_report
from anon_pipeline.transforms.registry import FitContext
from anon_pipeline.utility.report import utility_report

CONT_A, CONT_B = ["a1", "a2"], ["b1", "b2"]
DISCRETE = ["d1", "d2", "d3", "d4", "d5", "d6"]


def make_table(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], rows)
    b = np.column_stack([rng.lognormal(0, 0.5, rows), rng.gamma(2.0, 1.0, rows)])
    b[:, 1] += b[:, 0]
    d = {f"d{i}": rng.choice(k, rows, p=rng.dirichlet(np.ones(k))) for i, k in
         zip(range(1, 7), (2, 3, 5, 8, 12, 20))}
    d["d2"] = (d["d1"] + d["d2"]) % 3        # some dependence inside the discrete group
    return pd.DataFrame({"a1": a[:, 0], "a2": a[:, 1], "b1": b[:, 0], "b2": b[:, 1],
                         **{k: pd.Series(v).map(lambda x, k=k: f"{k}_{x}").astype("str") for k, v in d.items()}})


def ours(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    out = df.copy()
    for name, cols, op in (("cont_a", CONT_A, KdeSynthesis(KdeSynthesis.Params())),
                           ("cont_b", CONT_B, KdeSynthesis(KdeSynthesis.Params())),
                           ("discrete", DISCRETE, DiscreteSynthesis(DiscreteSynthesis.Params()))):
        ctx = FitContext(column=name, seed=seed)
        frame = df[cols]
        out[cols] = op.apply(frame, op.fit(frame, ctx), ctx)
    return out


def peer(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    out = df.copy()
    for cols in (CONT_A, CONT_B):
        kde = gaussian_kde(df[cols].to_numpy().T, bw_method="silverman")
        out[cols] = kde.resample(len(df), seed=seed).T
    out[DISCRETE] = df[DISCRETE].sample(len(df), replace=True, random_state=seed).to_numpy()
    return out


def timed(fn, *args, repeat: int = 1):
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn(*args)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def peak_mb(fn, *args) -> float:
    tracemalloc.start()
    fn(*args)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    df = make_table(args.rows, args.seed)
    data_mb = df.memory_usage(deep=True).sum() / 2**20
    print(f"table: {len(df):,} rows x {df.shape[1]} attributes ({data_mb:.0f} MB in pandas)")

    t_ours, syn = timed(ours, df, args.seed, repeat=3)
    t_peer, _ = timed(peer, df, args.seed, repeat=3)
    print(f"synthesis (3 groups, fit + apply), median of 3: ours {t_ours:.2f} s, "
          f"peer scipy gaussian_kde.resample + DataFrame.sample {t_peer:.2f} s, ratio ours/peer {t_ours / t_peer:.2f}")

    groups = {"cont_a": CONT_A, "cont_b": CONT_B, "discrete": DISCRETE}
    cols = CONT_A + CONT_B + DISCRETE
    t_util, report = timed(lambda: utility_report(df, syn, cols, groups=groups, seed=args.seed))
    t_priv, priv = timed(lambda: privacy_report(df, syn, DISCRETE, [CONT_A, CONT_B], seed=args.seed))
    print(f"utility report (10 columns, 3 groups, KL M={report['settings']['mc_samples']}, "
          f"<= {report['settings']['max_centres']} centres): {t_util:.2f} s; "
          f"privacy report (reproductions, closest record on <= 200,000 rows): {t_priv:.2f} s")
    print(f"  KL cont_a {report['groups']['cont_a']['value']:.4f} (se {report['groups']['cont_a']['standard_error']:.4f}), "
          f"discrete group {report['groups']['discrete']['value']:.5f}; max |association delta| "
          f"{report['association']['max_abs_delta']:.3f}; closest-record median ratio "
          f"{priv['closest_record'][0]['median_ratio']:.2f}")

    t_keps, ke = timed(lambda: k_eps(df, CONT_A, level=10))
    sub = df.sample(100_000, random_state=args.seed)
    t_keps_sub, ke_sub = timed(lambda: k_eps(sub, CONT_A, level=10))

    def naive(frame):
        x = frame[CONT_A].to_numpy()
        u = (x - x.min(axis=0)) / ((x.max(axis=0) - x.min(axis=0)) * 10 / 200)
        return int(cKDTree(u).query_ball_point(u, r=np.nextafter(1.0, 0), p=np.inf, return_length=True,
                                               workers=-1).min())
    t_naive_sub, k_naive = timed(naive, sub)
    assert k_naive == ke_sub.K_eps, "K_eps disagrees with the all-rows cKDTree count"
    print(f"K_eps (T=10 %) on {len(df):,} x 2: {t_keps:.2f} s (K_eps={ke.K_eps}, rows counted exactly "
          f"{ke.rows_counted:,}); on 100,000 rows: ours {t_keps_sub:.3f} s vs cKDTree count of every row "
          f"{t_naive_sub:.2f} s (ratio {t_keps_sub / t_naive_sub:.3f}, same K_eps={k_naive})")

    # A harder case for the pruning: uniform data, where every row has thousands of neighbours and the
    # minimum sits in the corners.
    flat = pd.DataFrame(np.random.default_rng(args.seed).uniform(size=(len(df), 2)), columns=CONT_A)
    t_keps_flat, ke_flat = timed(lambda: k_eps(flat, CONT_A, level=10))
    print(f"K_eps on {len(flat):,} x 2 uniform: {t_keps_flat:.2f} s (K_eps={ke_flat.K_eps}, rows counted exactly "
          f"{ke_flat.rows_counted:,})")

    mem_syn = peak_mb(ours, df, args.seed)
    mem_rep = peak_mb(lambda: utility_report(df, syn, cols, groups=groups, seed=args.seed))
    mem_keps = peak_mb(lambda: k_eps(df, CONT_A, level=10))
    print(f"peak traced memory: synthesis {mem_syn:.0f} MB, utility report {mem_rep:.0f} MB, K_eps {mem_keps:.0f} MB "
          f"(input table {data_mb:.0f} MB)")
    ok = {"synthesis_under_10s": t_ours < 10, "k_eps_under_30s": max(t_keps, t_keps_flat) < 30}
    for name, passed in ok.items():
        print(f"{'PASS' if passed else 'FAIL'}: {name}")
    print(json.dumps({"rows": len(df), "attributes": df.shape[1], "seed": args.seed,
                      "synthesis_s": t_ours, "synthesis_peer_s": t_peer, "synthesis_ratio": t_ours / t_peer,
                      "utility_report_s": t_util, "privacy_report_s": t_priv, "k_eps_s": t_keps,
                      "k_eps": ke.K_eps, "k_eps_uniform_s": t_keps_flat, "k_eps_uniform": ke_flat.K_eps,
                      "k_eps_100k_s": t_keps_sub, "k_eps_100k_peer_s": t_naive_sub,
                      "peak_mb_synthesis": mem_syn, "peak_mb_utility_report": mem_rep, "peak_mb_k_eps": mem_keps,
                      "input_mb": data_mb, "checks": ok}))
    return 0 if all(ok.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
