"""Our synthesis against SDV's GaussianCopula, python-synthpop's CART and independent marginals: speed, quality,
ML utility and the privacy attacks, on adult and flights, in one run.

Each data set is split once (seeded) into training (80 %) and control (20 %, never seen by any synthesiser).
Every method fits on the training split and draws as many rows. Per release:

- fit + sample seconds (the fastest of ``--repeat`` runs, 3 by default: the machine may be shared), and the CPU
  seconds of that process (``time.process_time``), which other load on a shared machine disturbs far less;
- sdmetrics' QualityReport (column shapes, column pair trends) against the training split;
- ML utility: a gradient-boosting classifier trained on the release, AUC on the control split (adult: salary-class
  > 50K; flights: arrival_attr above the control split's median, predicted without arrival_attr, so from the departure
  it depends on; the generator makes nothing else depend on anything);
- the attacks of anon_pipeline.attacks (Giomi et al. 2023, as anonymeter): singling-out (univariate, multivariate),
  linkability (quasi-identifiers split in two halves), inference of the secret (adult: salary-class; flights:
  airline) from every other column, each risk with its 95 % interval against the control split;
- exact copies: the share of released rows equal to a training row unique on every column, beside the share of
  control rows (real people the synthesiser never saw) that are.

Ours: discrete_synthesis over every column (a bootstrap), kde_synthesis (numeric columns smoothed, the rest copied
from the same source row), grouped_synthesis (automatic groups, default settings), cart_synthesis (defaults:
min_leaf 20, smoothing, unique copies refused). Baseline: every column drawn from its own marginal. Peers: SDV's
GaussianCopulaSynthesizer and python-synthpop's CARTMethod. SDV and python-synthpop need pandas < 3, so they run
in a virtual environment this script creates (``--venv``, default ``~/.cache/anon_pipeline/bench/
synthesis-peers``; pip installs them once), as does sdmetrics. python-synthpop's CARTMethod is not synthpop's
sequential CART: it fits each column on all the others and predicts from a bootstrap of real rows (its
DataProcessor is bypassed: it passes ``sparse=`` to scikit-learn's OneHotEncoder, which scikit-learn >= 1.4
refuses; categories are given to it as integer codes). Ends with one JSON line.

    PYTHONPATH=. python benchmarks/synthesis_privacy.py [--datasets adult,flights] [--n-attacks 2000] [--seed 7] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared peer-venv helper
from peer_venv import ensure_venv  # noqa: E402

from anon_pipeline.attacks import attack_report  # noqa: E402
from anon_pipeline.sample.flights import flights  # noqa: E402
from anon_pipeline.synthesis.continuous import is_smoothed  # noqa: E402
from anon_pipeline.synthesis.ops import CartSynthesis, DiscreteSynthesis, GroupedSynthesis, KdeSynthesis  # noqa: E402
from anon_pipeline.synthesis.privacy import unique_copy_mask  # noqa: E402
from anon_pipeline.transforms.registry import FitContext  # noqa: E402

ADULT = ROOT.parent / "shared" / "data" / "adult" / "adult.csv"
FLIGHTS = ["age", "departure_airport", "airline", "departure_attr", "arrival_attr"]
VENVS = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "anon_pipeline" / "bench"
PEERS = ["sdv==2.0.0", "python-synthpop==0.1.2", "sdmetrics==0.32.0"]
#: The peers' processes must not see this checkout (PYTHONPATH=. would show pip our package and its pins).
PEER_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

# Runs in the peers' environment: fits the peers on each training CSV, then scores every release CSV with sdmetrics.
RUNNER = r'''
import json, sys, time, warnings
import numpy as np, pandas as pd
warnings.simplefilter("ignore")
import logging; logging.disable(logging.WARNING)
from sdv.metadata import Metadata
from sdv.single_table import GaussianCopulaSynthesizer
from synthpop import CARTMethod
from sdmetrics.reports.single_table import QualityReport
cfg = json.load(open(sys.argv[1]))
out = {}
for name, d in cfg["datasets"].items():
    train = pd.read_csv(d["train"], sep=";")
    kinds = d["kinds"]
    res = out[name] = {"seconds": {}, "cpu_seconds": {}, "quality": {}}
    md = Metadata.load_from_dict({"tables": {"t": {"columns": {
        c: {"sdtype": "numerical" if k == "numerical" else "categorical"} for c, k in kinds.items()}}}})

    def gaussian_copula():
        gc = GaussianCopulaSynthesizer(md)
        gc.fit({"t": train})   # SDV 2 takes and returns {table name: frame}
        return gc.sample(num_rows=len(train))["t"]

    def synthpop_cart():
        codes = {c: pd.factorize(train[c])[1] for c, k in kinds.items() if k == "categorical"}
        enc = train.copy()
        for c, cats in codes.items():
            enc[c] = pd.Categorical(train[c], categories=cats).codes
        cart = CARTMethod(dict(kinds), smoothing=True, minibucket=5, random_state=cfg["seed"])
        np.random.seed(cfg["seed"])
        cart.fit(enc)
        syn = cart.sample(len(train))
        for c, cats in codes.items():
            syn[c] = cats[np.asarray(syn[c], dtype=int)]
        for c, k in kinds.items():
            if k == "numerical":
                syn[c] = pd.to_numeric(syn[c]).astype(train[c].dtype) if train[c].dtype.kind == "f" else \
                    np.round(pd.to_numeric(syn[c])).astype(train[c].dtype)
        return syn[list(train.columns)]

    for rel, make in (("sdv_gaussian_copula", gaussian_copula), ("synthpop_cart", synthpop_cart)):
        times, cpu = [], []
        for _ in range(cfg["repeat"]):
            t, c = time.perf_counter(), time.process_time()
            syn = make()
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        res["seconds"][rel], res["cpu_seconds"][rel] = min(times), min(cpu)
        syn.to_csv(d["releases"][rel], sep=";", index=False)
    meta = {"columns": {c: {"sdtype": "numerical" if k == "numerical" else "categorical"} for c, k in kinds.items()}}
    for rel, path in d["releases"].items():
        report = QualityReport()
        report.generate(train, pd.read_csv(path, sep=";"), meta, verbose=False)
        props = report.get_properties()
        res["quality"][rel] = {p: float(s) for p, s in zip(props["Property"], props["Score"])}
print(json.dumps(out))
'''


def load(name: str, adult_csv: Path) -> tuple[pd.DataFrame, str]:
    """(table, secret column)."""
    if name == "adult":
        return pd.read_csv(adult_csv, sep=";"), "salary-class"
    return flights(10_000, 20230501)[FLIGHTS], "airline"


def utility_target(name: str, frame: pd.DataFrame, late: float) -> tuple[pd.DataFrame, np.ndarray]:
    """(features, binary label) of the ML-utility task."""
    if name == "adult":
        return frame.drop(columns=["salary-class"]), (frame["salary-class"] == ">50K").to_numpy()
    return frame.drop(columns=["arrival_attr"]), (frame["arrival_attr"] > late).to_numpy()


def auc(name: str, release: pd.DataFrame, control: pd.DataFrame) -> float:
    late = float(control["arrival_attr"].median()) if name == "flights" else float("nan")
    (x, y), (xt, yt) = utility_target(name, release, late), utility_target(name, control, late)
    if len(set(y)) < 2:
        return float("nan")
    both = pd.concat([x, xt], ignore_index=True)
    for c in both.columns:
        if not pd.api.types.is_numeric_dtype(both[c]):
            both[c] = both[c].astype("category")
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    model.fit(both.iloc[:len(x)], y)
    return float(roc_auc_score(yt, model.predict_proba(both.iloc[len(x):])[:, 1]))


def marginals(train: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The baseline: each column resampled on its own (no relation between columns survives)."""
    n = len(train)
    return pd.DataFrame({c: train[c].iloc[rng.integers(0, n, n)].to_numpy() for c in train.columns})


def ours(train: pd.DataFrame, seed: int, repeat: int) -> dict[str, tuple[pd.DataFrame, float]]:
    numeric = [c for c in train.columns if is_smoothed(train[c])]
    ops = {"discrete_synthesis": DiscreteSynthesis(DiscreteSynthesis.Params()),
           "kde_synthesis": KdeSynthesis(KdeSynthesis.Params(discrete=[c for c in train.columns if c not in numeric])),
           "grouped_synthesis": GroupedSynthesis(GroupedSynthesis.Params()),
           "cart_synthesis": CartSynthesis(CartSynthesis.Params())}
    out = {}
    for name, op in ops.items():
        ctx = FitContext(column="bench", seed=seed)
        out[name] = best_of(repeat, lambda op=op, ctx=ctx: op.apply(train, op.fit(train, ctx), ctx))
    out["independent_marginals"] = best_of(repeat, lambda: marginals(train, np.random.default_rng(seed)))
    return out


def best_of(repeat: int, make) -> tuple[pd.DataFrame, float, float]:
    """The release (every run draws the same one) and the fastest of ``repeat`` runs' seconds and CPU seconds: the
    machine is shared, and the least disturbed run is the closest to the method's own cost."""
    times, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        released = make()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return released.reset_index(drop=True), min(times), min(cpu)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="adult,flights")
    ap.add_argument("--data", type=Path, default=ADULT, help="adult.csv")
    ap.add_argument("--n-attacks", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3, help="runs per method; the fastest one's seconds count")
    ap.add_argument("--venv", type=Path, default=VENVS / "synthesis-peers")
    args = ap.parse_args(argv)
    python = ensure_venv(args.venv, "sdv, synthpop, sdmetrics", PEERS, env=PEER_ENV)
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        splits, releases, cfg = {}, {}, {"seed": args.seed, "repeat": args.repeat, "datasets": {}}
        for name in args.datasets.split(","):
            df, secret = load(name, args.data)
            perm = np.random.default_rng(args.seed).permutation(len(df))
            n_control = int(round(0.2 * len(df)))
            control = df.iloc[perm[:n_control]].reset_index(drop=True)
            train = df.iloc[perm[n_control:]].reset_index(drop=True)
            splits[name] = (train, control, secret)
            releases[name] = ours(train, args.seed, args.repeat)
            paths = {rel: f"{tmp}/{name}_{rel}.csv" for rel in [*releases[name], "sdv_gaussian_copula",
                                                                 "synthpop_cart"]}
            for rel, (frame, *_) in releases[name].items():
                frame.to_csv(paths[rel], sep=";", index=False)
            train.to_csv(f"{tmp}/{name}_train.csv", sep=";", index=False)
            kinds = {c: "numerical" if pd.api.types.is_numeric_dtype(train[c]) else "categorical"
                     for c in train.columns}
            cfg["datasets"][name] = {"train": f"{tmp}/{name}_train.csv", "kinds": kinds, "releases": paths}
        Path(f"{tmp}/config.json").write_text(json.dumps(cfg))
        Path(f"{tmp}/runner.py").write_text(RUNNER)
        print("running the peers and sdmetrics in", args.venv, flush=True)
        proc = subprocess.run([str(python), f"{tmp}/runner.py", f"{tmp}/config.json"], capture_output=True, text=True,
                              env=PEER_ENV)
        if proc.returncode != 0:
            raise SystemExit(f"the peers failed:\n{proc.stderr[-3000:]}")
        peers = json.loads(proc.stdout.strip().splitlines()[-1])
        for name, (train, control, secret) in splits.items():
            for rel in ("sdv_gaussian_copula", "synthpop_cart"):
                frame = pd.read_csv(cfg["datasets"][name]["releases"][rel], sep=";")
                releases[name][rel] = (frame.astype(train.dtypes.to_dict()), peers[name]["seconds"][rel],
                                       peers[name]["cpu_seconds"][rel])
            results[name] = evaluate(name, train, control, secret, releases[name], peers[name]["quality"], args)
    speed = {name: {rel: r["seconds"] for rel, r in res["releases"].items()} for name, res in results.items()}
    ratios = {name: s["synthpop_cart"] / s["cart_synthesis"] for name, s in speed.items()}
    cpu = {name: {rel: r["cpu_seconds"] for rel, r in res["releases"].items()} for name, res in results.items()}
    cpu_ratios = {name: s["synthpop_cart"] / s["cart_synthesis"] for name, s in cpu.items()}
    for name, ratio in ratios.items():
        print(f"{name}: cart_synthesis is {ratio:.1f}x faster than python-synthpop's CART "
              f"({cpu_ratios[name]:.1f}x in CPU seconds)")
    print(json.dumps({"benchmark": "synthesis_privacy", "seed": args.seed, "n_attacks": args.n_attacks,
                      "peers": PEERS, "results": results, "cart_speedup_vs_synthpop": ratios,
                      "cart_cpu_speedup_vs_synthpop": cpu_ratios}))
    return 0


def evaluate(name: str, train: pd.DataFrame, control: pd.DataFrame, secret: str, releases: dict, quality: dict,
             args) -> dict:
    qi = [c for c in train.columns if c != secret]
    control_copies = float(unique_copy_mask(train, control).mean())
    print(f"\n{name}: training {len(train)}, control {len(control)}; secret {secret}; control rows copying a unique "
          f"training row: {100 * control_copies:.1f} %")
    print(f"{'release':<24}{'s':>7}{'shapes':>8}{'pairs':>7}{'AUC':>7}{'copies':>8}   risks [95 % CI]: "
          "SO-uni, SO-multi, link, inference")
    out = {"control_unique_copy_share": control_copies, "releases": {}}
    for rel, (frame, seconds, cpu_seconds) in releases.items():
        report = attack_report(train, frame, control, qi, [secret], n_attacks=args.n_attacks, seed=args.seed)
        risks = {k: {"risk": a["risk"], "ci": a["ci"]} for k, a in report["attacks"].items()}
        q = quality.get(rel, {})
        row = {"seconds": seconds, "cpu_seconds": cpu_seconds, "column_shapes": q.get("Column Shapes"),
               "column_pair_trends": q.get("Column Pair Trends"), "auc": auc(name, frame, control),
               "unique_copy_share": float(unique_copy_mask(train, frame).mean()), "risks": risks}
        out["releases"][rel] = row
        text = ", ".join(f"{r['risk']:.3f} [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]" for r in risks.values())
        print(f"{rel:<24}{seconds:>7.2f}{row['column_shapes'] or float('nan'):>8.3f}"
              f"{row['column_pair_trends'] or float('nan'):>7.3f}{row['auc']:>7.3f}"
              f"{100 * row['unique_copy_share']:>7.1f}%   {text}", flush=True)
    return out


if __name__ == "__main__":
    raise SystemExit(main())
