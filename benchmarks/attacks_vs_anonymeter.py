"""Our attacks (anon_pipeline.attacks) against anonymeter on adult: same data, same 20 % control split, same settings.

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

Data: ``../shared/data/adult/adult.csv``, split once (seeded) into training (80 %) and control (20 %). Two
releases of the training split: a bootstrap resample (a deliberately leaky "release": every row a training row)
and our ``kde_synthesis`` (age smoothed, every other column copied from the same source row, as the issue's
synthesis does). For each release and attack (singling-out univariate and multivariate, linkability with the
quasi-identifiers split into two halves, inference of salary-class from every other column), both tools run
with the same ``n_attacks``, ``n_cols`` and ``max_attempts``. The attacks are randomised (anonymeter draws its
own targets and predicates), so agreement means overlapping 95 % confidence intervals. Ends with one JSON line.

    PYTHONPATH=. python benchmarks/attacks_vs_anonymeter.py [--n-attacks 500] [--seed 7] [--venv DIR]
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

from anon_pipeline.attacks import attack_report  # noqa: E402
from anon_pipeline.attacks.singling_out import DEFAULT_MAX_ATTEMPTS  # noqa: E402
from anon_pipeline.synthesis.ops import KdeSynthesis  # noqa: E402
from anon_pipeline.transforms.registry import FitContext  # noqa: E402

ADULT = ROOT.parent / "shared" / "data" / "adult" / "adult.csv"
SECRET = "salary_class"
VENVS = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "anon_pipeline" / "bench"

# Runs inside the anonymeter environment: reads the CSVs named in a JSON config, prints one JSON line.
RUNNER = r'''
import inspect, json, sys, time, warnings
import numpy as np, pandas as pd
from anonymeter.evaluators import InferenceEvaluator, LinkabilityEvaluator, SinglingOutEvaluator
warnings.simplefilter("ignore")
cfg = json.load(open(sys.argv[1]))
read = lambda p: pd.read_csv(p, sep=";")
ori, ctl = read(cfg["original"]), read(cfg["control"])
n, seed = cfg["n_attacks"], cfg["seed"]
np.random.seed(seed)  # pandas' sample() in linkability and inference draws from numpy's global generator

def summary(ev, start):
    res = ev.results()
    risk = res.risk()
    return {"risk": risk.value, "ci": list(risk.ci), "attack_rate": res.attack_rate.value,
            "control_rate": res.control_rate.value, "baseline_rate": res.baseline_rate.value,
            "seconds": time.perf_counter() - start}

out = {}
for name, path in cfg["releases"].items():
    syn = read(path)
    res = {}
    seeded = {"seed": seed} if "seed" in inspect.signature(SinglingOutEvaluator).parameters else {}
    for mode in ("univariate", "multivariate"):
        t = time.perf_counter()
        ev = SinglingOutEvaluator(ori=ori, syn=syn, control=ctl, n_attacks=n, n_cols=cfg["n_cols"],
                                  max_attempts=cfg["max_attempts"], **seeded).evaluate(mode=mode)
        res["singling_out_" + mode] = summary(ev, t)
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


def ensure_venv(venv: Path, requirement: str) -> Path:
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import anonymeter.evaluators"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"creating {venv} and installing {requirement} (once) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", requirement], check=True)
    return python


def releases(train: pd.DataFrame, seed: int) -> dict[str, pd.DataFrame]:
    boot = train.sample(len(train), replace=True, random_state=seed).reset_index(drop=True)
    op = KdeSynthesis(KdeSynthesis.Params(clip=True, round_integers=True,
                                          discrete=[c for c in train.columns if c != "age"]))
    ctx = FitContext(column="adult", seed=seed)
    kde = op.apply(train, op.fit(train, ctx), ctx).reset_index(drop=True)[list(train.columns)]
    return {"bootstrap": boot, "kde_synthesis": kde}


def overlap(a: list[float], b: list[float]) -> bool:
    return max(a[0], b[0]) <= min(a[1], b[1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-attacks", type=int, default=500)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--max-attempts", type=int, default=DEFAULT_MAX_ATTEMPTS)
    ap.add_argument("--data", type=Path, default=ADULT)
    ap.add_argument("--anonymeter", default="1.0.0", help="anonymeter version to compare with")
    ap.add_argument("--venv", type=Path, default=None)
    args = ap.parse_args(argv)

    requirement = f"anonymeter=={args.anonymeter}"
    python = ensure_venv(args.venv or VENVS / f"anonymeter-{args.anonymeter}", requirement)
    df = pd.read_csv(args.data, sep=";")
    df.columns = [c.replace("-", "_") for c in df.columns]
    perm = np.random.default_rng(args.seed).permutation(len(df))
    n_control = int(round(0.2 * len(df)))
    control = df.iloc[perm[:n_control]].reset_index(drop=True)
    train = df.iloc[perm[n_control:]].reset_index(drop=True)
    qi = [c for c in df.columns if c != SECRET]
    halves = (qi[:(len(qi) + 1) // 2], qi[(len(qi) + 1) // 2:])
    print(f"adult: {len(df)} rows; training {len(train)}, control {len(control)} (20 %); {args.n_attacks} attacks, "
          f"seed {args.seed}; linkability halves {halves[0]} | {halves[1]}; inference of {SECRET}")

    with tempfile.TemporaryDirectory() as tmp:
        paths = {"original": f"{tmp}/original.csv", "control": f"{tmp}/control.csv"}
        train.to_csv(paths["original"], sep=";", index=False)
        control.to_csv(paths["control"], sep=";", index=False)
        rel_paths = {}
        for name, frame in releases(train, args.seed).items():
            rel_paths[name] = f"{tmp}/{name}.csv"
            frame.to_csv(rel_paths[name], sep=";", index=False)
        cfg = {**paths, "releases": rel_paths, "n_attacks": args.n_attacks, "seed": args.seed, "n_cols": 3,
               "max_attempts": args.max_attempts, "aux_cols": list(halves), "secret": SECRET}
        Path(f"{tmp}/config.json").write_text(json.dumps(cfg))
        Path(f"{tmp}/runner.py").write_text(RUNNER)
        # Both tools read the very same files.
        read = lambda p: pd.read_csv(p, sep=";")  # noqa: E731
        ori, ctl = read(paths["original"]), read(paths["control"])
        ours, t_ours = {}, {}
        for name, path in rel_paths.items():
            start = time.perf_counter()
            ours[name] = attack_report(ori, read(path), ctl, qi, [SECRET], n_attacks=args.n_attacks,
                                       seed=args.seed, linkability_columns=halves, max_attempts=args.max_attempts)
            t_ours[name] = time.perf_counter() - start
        start = time.perf_counter()
        proc = subprocess.run([str(python), f"{tmp}/runner.py", f"{tmp}/config.json"], capture_output=True,
                              text=True)
        t_theirs_total = time.perf_counter() - start
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return 2
        theirs = json.loads(proc.stdout.strip().splitlines()[-1])

    figures, all_agree = {}, True
    print(f"\n{'release':<14}{'attack':<28}{'ours: risk [95 % CI]':<28}{'anonymeter: risk [95 % CI]':<30}"
          f"{'agree':<7}{'ours s':>8}{'anon s':>9}")
    for name in rel_paths:
        for attack, a in theirs[name].items():
            o = ours[name]["attacks"][attack]
            agree = overlap(o["ci"], a["ci"])
            all_agree &= agree
            figures.setdefault(name, {})[attack] = {
                "ours": {"risk": o["risk"], "ci": o["ci"], "attack_rate": o["attack_rate"]["value"],
                         "control_rate": o["control_rate"]["value"], "baseline_rate": o["baseline_rate"]["value"],
                         "seconds": o["seconds"]},
                "anonymeter": a, "agree": agree}
            print(f"{name:<14}{attack:<28}{o['risk']:.3f} [{o['ci'][0]:.3f}, {o['ci'][1]:.3f}]{'':<9}"
                  f"{a['risk']:.3f} [{a['ci'][0]:.3f}, {a['ci'][1]:.3f}]{'':<11}{'yes' if agree else 'NO':<7}"
                  f"{o['seconds']:>8.2f}{a['seconds']:>9.2f}")
    t_theirs = {n: sum(r["seconds"] for r in theirs[n].values()) for n in rel_paths}
    for name in rel_paths:
        print(f"{name}: all attacks, ours {t_ours[name]:.1f} s, anonymeter {t_theirs[name]:.1f} s "
              f"(ratio {t_theirs[name] / t_ours[name]:.0f}x)")
    print(f"{'PASS' if all_agree else 'FAIL'}: every risk agrees with anonymeter's within the confidence intervals")
    print(json.dumps({"benchmark": "attacks_vs_anonymeter", "anonymeter": requirement, "n_attacks": args.n_attacks,
                      "seed": args.seed, "max_attempts": args.max_attempts, "rows": {"training": len(train),
                      "control": len(control)}, "results": figures, "seconds_ours": t_ours,
                      "seconds_anonymeter": t_theirs, "seconds_anonymeter_process": t_theirs_total,
                      "all_agree": bool(all_agree)}))
    return 0 if all_agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
