"""Our attacks (anon_pipeline.attacks) against anonymeter on adult and flights: same data, same 20 % control split.

anonymeter pins numpy < 1.27 (and pulls numba), so it can never enter the project's environment: this script
creates a separate virtual environment (``--venv``, default ``~/.cache/anon_pipeline/bench/anonymeter-<version>``),
installs anonymeter there once with pip, and runs it in a subprocess on the same CSV files our attacks read.

The default peer is anonymeter 1.0.0, the release of the source our attacks follow (github statice/anonymeter).
``--anonymeter 1.1.0`` runs the current PyPI release, which has two regressions that move its numbers away
from the paper's definitions: its control-size correction of singling-out counts every query as a success at
every subsample size (``_measure_queries_success`` takes ``len`` of a tuple of counts), and its naive inference
baseline re-indexes random released rows onto the targets' index, so most baseline guesses are missing.
Column names are made identifiers (``-`` -> ``_``): anonymeter 1.0.0 builds ``DataFrame.query`` strings and
silently drops predicates on other names.

Data: ``../shared/data/adult/adult.csv`` (secret: salary-class) and the flights example (10,000 rows of the
bundled generator, as ``policies/flights_synthesis.yaml``; secret: airline), each split once (seeded) into
training (80 %) and control (20 %). Two releases of each training split: a bootstrap resample (a deliberately
leaky "release": every row a training row) and our ``kde_synthesis`` (the numeric columns smoothed, every other
column copied from the same source row, as the issue's synthesis does). For each release and attack
(singling-out univariate and multivariate, linkability with the quasi-identifiers split into two halves,
inference of the secret from every other column), both tools run with the same ``n_attacks``, ``n_cols`` and
``max_attempts``. The attacks are randomised (anonymeter draws its
own targets and predicates), so agreement means overlapping 95 % confidence intervals. For singling-out the
factor by which each tool rescales the control's successes to the training set's size is printed too: where
anonymeter's fit collapses (a factor of (control rows + 1) / (training rows + 1), from its starting point) its
control rate is too low and its risk too high; ``anon_pipeline_tests/attacks`` checks our factor against a
control of the training set's size. Ends with one JSON line.

    PYTHONPATH=. python benchmarks/attacks_vs_anonymeter.py [--n-attacks 500] [--seed 7] [--datasets adult,flights]
        [--max-attempts N] [--anonymeter 1.0.0] [--venv DIR]
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared peer-venv helper
from peer_venv import ensure_venv  # noqa: E402

from anon_pipeline.attacks import attack_report, success_rate  # noqa: E402
from anon_pipeline.attacks.singling_out import DEFAULT_MAX_ATTEMPTS  # noqa: E402
from anon_pipeline.sample.flights import flights  # noqa: E402
from anon_pipeline.synthesis.ops import KdeSynthesis  # noqa: E402
from anon_pipeline.transforms.registry import FitContext  # noqa: E402

ADULT = ROOT.parent / "shared" / "data" / "adult" / "adult.csv"
FLIGHTS = ["age", "departure_airport", "airline", "departure_attr", "arrival_attr"]


def load(name: str, adult_csv: Path) -> tuple[pd.DataFrame, str]:
    """(table, secret column); column names made identifiers for anonymeter 1.0.0's query strings."""
    if name == "adult":
        df = pd.read_csv(adult_csv, sep=";")
        df.columns = [c.replace("-", "_") for c in df.columns]
        return df, "salary_class"
    return flights(10_000, 20230501)[FLIGHTS], "airline"
VENVS = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "anon_pipeline" / "bench"

# Runs inside the anonymeter environment: reads the CSVs named in a JSON config, prints one JSON line.
RUNNER = r'''
import inspect, json, sys, time, warnings
import numpy as np, pandas as pd
from anonymeter.evaluators import InferenceEvaluator, LinkabilityEvaluator, SinglingOutEvaluator
import anonymeter.evaluators.singling_out_evaluator as soe
warnings.simplefilter("ignore")
cfg = json.load(open(sys.argv[1]))
fitted = {}
_fit = soe.fit_correction_term
def fit_and_keep(df, queries):  # records the control-size model evaluate() fits, to report its correction
    fitted["model"] = _fit(df=df, queries=queries)
    return fitted["model"]
soe.fit_correction_term = fit_and_keep
read = lambda p: pd.read_csv(p, sep=";")
ori, ctl = read(cfg["original"]), read(cfg["control"])
n, seed = cfg["n_attacks"], cfg["seed"]
np.random.seed(seed)  # pandas' sample() in linkability and inference draws from numpy's global generator

def summary(ev, start):
    res = ev.results()
    risk = res.risk()
    return {"risk": risk.value, "ci": list(risk.ci), "attack_rate": res.attack_rate.value,
            "control_rate": res.control_rate.value, "baseline_rate": res.baseline_rate.value,
            "n_attacks": res.n_attacks, "n_success": int(res.n_success), "n_control": float(res.n_control),
            "seconds": time.perf_counter() - start}

out = {}
for name, path in cfg["releases"].items():
    syn = read(path)
    res = {}
    seeded = {"seed": seed} if "seed" in inspect.signature(SinglingOutEvaluator).parameters else {}
    for mode in ("univariate", "multivariate"):
        t = time.perf_counter()
        fitted.clear()
        ev = SinglingOutEvaluator(ori=ori, syn=syn, control=ctl, n_attacks=n, n_cols=cfg["n_cols"],
                                  max_attempts=cfg["max_attempts"], **seeded).evaluate(mode=mode)
        res["singling_out_" + mode] = summary(ev, t)
        if "model" in fitted:
            m = fitted["model"]
            res["singling_out_" + mode]["control_correction"] = float(m(len(ev._ori)) / m(len(ev._control)))
    t = time.perf_counter()
    ev = LinkabilityEvaluator(ori=ori, syn=syn, control=ctl, n_attacks=n, aux_cols=tuple(cfg["aux_cols"]),
                              n_neighbors=1).evaluate(n_jobs=1)
    res["linkability"] = summary(ev, t)
    t = time.perf_counter()
    aux = [c for c in ori.columns if c != cfg["secret"]]
    ev = InferenceEvaluator(ori=ori, syn=syn, control=ctl, aux_cols=aux, secret=cfg["secret"],
                            n_attacks=n).evaluate(n_jobs=1)
    res["inference_" + cfg["secret"]] = summary(ev, t)
    out[name] = res
print(json.dumps(out))
'''


def releases(train: pd.DataFrame, seed: int) -> dict[str, pd.DataFrame]:
    boot = train.sample(len(train), replace=True, random_state=seed).reset_index(drop=True)
    numeric = ["departure_attr", "arrival_attr"] if "departure_attr" in train.columns else ["age"]
    op = KdeSynthesis(KdeSynthesis.Params(clip=True, round_integers=True,
                                          discrete=[c for c in train.columns if c not in numeric]))
    ctx = FitContext(column="adult", seed=seed)
    kde = op.apply(train, op.fit(train, ctx), ctx).reset_index(drop=True)[list(train.columns)]
    return {"bootstrap": boot, "kde_synthesis": kde}


def overlap(a: list[float], b: list[float]) -> bool:
    return max(a[0], b[0]) <= min(a[1], b[1])


def counts_agree(ours: dict, theirs: dict) -> bool:
    """Do the attacks themselves agree: overlapping Wilson intervals of the training successes and of the control
    successes before singling-out's size correction (the step where the tools differ on purpose)?"""
    def interval(n_success: float, n: int) -> list[float]:
        r = success_rate(n, n_success)
        return [r.value - r.error, r.value + r.error]
    raw = [(d["n_success"], d["n_control"] / (d.get("control_correction") or 1.0)) for d in (ours, theirs)]
    n = ours["n_attacks"]
    return all(overlap(interval(a, n), interval(b, n)) for a, b in zip(*raw))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-attacks", type=int, default=500)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--max-attempts", type=int, default=DEFAULT_MAX_ATTEMPTS)
    ap.add_argument("--data", type=Path, default=ADULT, help="adult.csv")
    ap.add_argument("--datasets", default="adult,flights")
    ap.add_argument("--anonymeter", default="1.0.0", help="anonymeter version to compare with")
    ap.add_argument("--venv", type=Path, default=None)
    args = ap.parse_args(argv)

    requirement = f"anonymeter=={args.anonymeter}"
    python = ensure_venv(args.venv or VENVS / f"anonymeter-{args.anonymeter}", "anonymeter.evaluators",
                         [requirement])
    figures, seconds, all_agree, explained = {}, {}, True, True
    print(f"{args.n_attacks} attacks, seed {args.seed}, max_attempts {args.max_attempts}, {requirement}")
    print(f"{'data/release':<22}{'attack':<28}{'ours: risk [95 % CI]':<25}{'anonymeter: risk [95 % CI]':<28}"
          f"{'agree':<7}{'ours s':>8}{'anon s':>9}")
    for dataset in args.datasets.split(","):
        res, secs = compare(python, dataset, args)
        figures[dataset], seconds[dataset] = res, secs
        all_agree &= all(a["agree"] for rel in res.values() for a in rel.values())
        explained &= all(a["agree"] or a["counts_agree"] for rel in res.values() for a in rel.values())
    for dataset, secs in seconds.items():
        for name, (t_ours, t_theirs) in secs.items():
            print(f"{dataset}/{name}: all attacks, ours {t_ours:.1f} s, anonymeter {t_theirs:.1f} s "
                  f"(ratio {t_theirs / t_ours:.0f}x)")
    print(f"{'PASS' if all_agree else 'FAIL'}: every risk agrees with anonymeter's within the confidence intervals")
    if not all_agree:
        print(f"{'PASS' if explained else 'FAIL'}: where a risk does not, the attack and raw control success "
              "counts agree, and the difference is the control-size correction")
    print(json.dumps({"benchmark": "attacks_vs_anonymeter", "anonymeter": requirement, "n_attacks": args.n_attacks,
                      "seed": args.seed, "max_attempts": args.max_attempts, "results": figures,
                      "seconds": seconds, "all_agree": bool(all_agree),
                      "disagreements_explained_by_size_correction": bool(explained)}))
    return 0 if explained else 1


def compare(python: Path, dataset: str, args) -> tuple[dict, dict]:
    df, secret = load(dataset, args.data)
    perm = np.random.default_rng(args.seed).permutation(len(df))
    n_control = int(round(0.2 * len(df)))
    control = df.iloc[perm[:n_control]].reset_index(drop=True)
    train = df.iloc[perm[n_control:]].reset_index(drop=True)
    qi = [c for c in df.columns if c != secret]
    halves = (qi[:(len(qi) + 1) // 2], qi[(len(qi) + 1) // 2:])
    print(f"{dataset}: {len(df)} rows; training {len(train)}, control {len(control)} (20 %); linkability halves "
          f"{halves[0]} | {halves[1]}; inference of {secret}")
    with tempfile.TemporaryDirectory() as tmp:
        paths = {"original": f"{tmp}/original.csv", "control": f"{tmp}/control.csv"}
        train.to_csv(paths["original"], sep=";", index=False)
        control.to_csv(paths["control"], sep=";", index=False)
        rel_paths = {}
        for name, frame in releases(train, args.seed).items():
            rel_paths[name] = f"{tmp}/{name}.csv"
            frame.to_csv(rel_paths[name], sep=";", index=False)
        cfg = {**paths, "releases": rel_paths, "n_attacks": args.n_attacks, "seed": args.seed, "n_cols": 3,
               "max_attempts": args.max_attempts, "aux_cols": list(halves), "secret": secret}
        Path(f"{tmp}/config.json").write_text(json.dumps(cfg))
        Path(f"{tmp}/runner.py").write_text(RUNNER)
        # Both tools read the very same files.
        read = lambda p: pd.read_csv(p, sep=";")  # noqa: E731
        ori, ctl = read(paths["original"]), read(paths["control"])
        ours, t_ours = {}, {}
        for name, path in rel_paths.items():
            start = time.perf_counter()
            ours[name] = attack_report(ori, read(path), ctl, qi, [secret], n_attacks=args.n_attacks,
                                       seed=args.seed, linkability_columns=halves, max_attempts=args.max_attempts)
            t_ours[name] = time.perf_counter() - start
        proc = subprocess.run([str(python), f"{tmp}/runner.py", f"{tmp}/config.json"], capture_output=True,
                              text=True)
        if proc.returncode != 0:
            raise SystemExit(f"anonymeter failed:\n{proc.stderr[-3000:]}")
        theirs = json.loads(proc.stdout.strip().splitlines()[-1])
    figures, seconds = {}, {}
    for name in rel_paths:
        for attack, a in theirs[name].items():
            o = ours[name]["attacks"][attack]
            agree = overlap(o["ci"], a["ci"])
            mine = {"risk": o["risk"], "ci": o["ci"], "attack_rate": o["attack_rate"]["value"],
                    "control_rate": o["control_rate"]["value"], "baseline_rate": o["baseline_rate"]["value"],
                    "n_attacks": o["n_attacks"], "n_success": o["n_success"], "n_control": o["n_control"],
                    "seconds": o["seconds"], "control_correction": o.get("control_correction")}
            figures.setdefault(name, {})[attack] = {"ours": mine, "anonymeter": a, "agree": agree,
                                                    "counts_agree": counts_agree(mine, a)}
            print(f"{dataset + '/' + name:<22}{attack:<28}{o['risk']:.3f} [{o['ci'][0]:.3f}, {o['ci'][1]:.3f}]"
                  f"{'':<6}{a['risk']:.3f} [{a['ci'][0]:.3f}, {a['ci'][1]:.3f}]{'':<9}{'yes' if agree else 'NO':<7}"
                  f"{o['seconds']:>8.2f}{a['seconds']:>9.2f}")
            if "control_correction" in a and o.get("control_correction") is not None:
                print(f"{'':<22}{'  control-size correction':<28}{o['control_correction']:<25.3f}"
                      f"{a['control_correction']:<28.3f}"
                      f"{'' if agree else 'counts agree' if figures[name][attack]['counts_agree'] else 'NO'}")
        seconds[name] = (t_ours[name], sum(r["seconds"] for r in theirs[name].values()))
    return figures, seconds


if __name__ == "__main__":
    raise SystemExit(main())
