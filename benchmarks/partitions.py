"""Monthly partitions on the streaming engine (issue 15): two months of the insurance sample, 1e6 rows each by
default, through a partitioned copy of the bundled insurance policy with ``plan: {reuse: latest}``.

The first month fits the plan; the second replays it (no refit: the same codes). Each run is a fresh process
(``anon-pipeline run --partition``), timed with its peak RSS; the pandas script of ``benchmarks/scale.py`` on the
same month is the peer. Prints the figures and the ratios, checks the two months share their plan, and ends with
one JSON line.

    python benchmarks/partitions.py [--rows 1000000] [--data-dir DIR]
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

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import scale  # noqa: E402  (the peer and the input maker of the scale benchmark)

MONTHS = ("2024-01", "2024-02")


def policy_file(folder: Path) -> Path:
    doc = yaml.safe_load((ROOT / "policies" / "insurance_customers.yaml").read_text())
    doc["name"] = "insurance_monthly_bench"
    doc["source"] = {"format": "parquet"}
    doc["partitions"] = {"monthly": {"start": MONTHS[0], "source": str(folder / "customers_{month}.parquet")}}
    doc["plan"] = {"reuse": "latest"}
    doc.pop("schedule", None)
    path = folder / "policy.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def run_month(policy: Path, month: str, work: Path, env: dict) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with (work / f"{month}.log").open("wb") as log:
        pid = subprocess.Popen([sys.executable, "-m", "anon_pipeline.cli", "run", str(policy), "--partition", month,
                                "--workdir", str(work)], cwd=ROOT, env=env, stdout=log, stderr=log).pid
    _, status, usage = os.wait4(pid, 0)
    text = (work / f"{month}.log").read_text(errors="replace")
    return {"month": month, "exit": os.waitstatus_to_exitcode(status), "wall_s": round(time.perf_counter() - start, 2),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
            "plan": next((line.split()[1] for line in text.splitlines() if line.startswith("plan:")), None),
            "reused": "reused" in next((line for line in text.splitlines() if line.startswith("plan:")), "")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=float, default=1e6)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    rows = int(args.rows)
    folder = Path(tempfile.mkdtemp(prefix="partitions_"))
    data = args.data_dir or folder
    data.mkdir(parents=True, exist_ok=True)
    source, _ = scale.make_input(rows, data)
    for month in MONTHS:   # the same rows each month: the point is the replay, not new data
        target = folder / f"customers_{month}.parquet"
        if not target.exists():
            target.symlink_to(source)
    policy = policy_file(folder)
    env = {k: v for k, v in os.environ.items() if k not in ("ANON_PIPELINE_KEY", "ANON_PIPELINE_KEY_FILE")}
    env["XDG_CONFIG_HOME"] = str(folder / "config")
    runs = [run_month(policy, month, folder / "work", env) for month in MONTHS]
    lookups = scale.lookup_paths(folder)
    scale.write_lookups(folder)
    peer = scale.run_child("pandas", source, lookups, folder, 3600)
    print(f"{rows:,} rows per month, streaming engine (default batch), plan fitted in {MONTHS[0]}, replayed after")
    print("  month      exit  wall s   cpu s  peak MiB  x pandas")
    for r in runs:
        r["x_pandas_time"] = round(r["wall_s"] / peer["wall_s"], 2)
        print(f"  {r['month']}  {r['exit']:5d} {r['wall_s']:7.1f} {r['cpu_s']:7.1f} {r['peak_rss_mib']:9.0f} "
              f"{r['x_pandas_time']:9.2f}")
    print(f"  pandas script: {peer['wall_s']:.1f} s wall, {peer['peak_rss_mib']:.0f} MiB")
    same = runs[0]["plan"] is not None and runs[0]["plan"] == runs[1]["plan"] and runs[1]["reused"]
    print(f"  {MONTHS[1]} replayed the plan of {MONTHS[0]}: {same}")
    print(json.dumps({"benchmark": "partitions", "rows": rows, "months": runs, "pandas": peer}))
    return 0 if same and all(r["exit"] == 0 for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
