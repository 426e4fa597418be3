"""The Dask engine against the streaming engine (issue 10): the bundled insurance policy on parquet input of 1e6 and
1e7 rows, ``run_policy(engine="dask")`` on a ``LocalCluster`` of 2 worker processes (1 thread each) against
``run_policy()`` in one process.

Each engine runs in a fresh subprocess (its peak RSS, from ``wait4``, is its own: for dask, the driver's). For the
Dask run the child also reports:

- ``cluster_start_s``: starting the LocalCluster (not in ``wall_s``: a user's cluster is already running);
- ``worker_peak_rss_mib``: each worker process's peak RSS (``ru_maxrss``, asked of the workers at the end);
- ``bytes_to_driver``: the pickled size of every task result the driver gathered (aggregates, row counts,
  value counts), and ``bytes_to_workers``: the pickled size of the task arguments (descriptors, policy, plan).

Inputs: ``anon-pipeline sample --rows N --seed 7 --out DIR/insurance_customers_N_7.parquet`` (made when absent).
Ends with one JSON line.

    python benchmarks/distributed.py [--sizes 1e6 1e7] [--data-dir /tmp/scale2] [--batch-rows 250000]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# This file's name is the package's: without its folder on the path, ``import distributed`` finds the package.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "policies" / "insurance_customers.yaml"


def _input(data_dir: Path, rows: int) -> Path:
    path = data_dir / f"insurance_customers_{rows}_7.parquet"
    if not path.exists():
        subprocess.run([Path(sys.executable).with_name("anon-pipeline"), "sample", "--rows", str(rows), "--seed", "7",
                        "--out", str(path)], check=True)
    return path


def _child(engine: str, source: str, batch_rows: int, out: str) -> None:
    from anon_pipeline import run_policy

    extra: dict = {}
    scheduler = None
    if engine == "dask":
        import distributed
        from distributed import LocalCluster

        sent = {"to_driver": 0, "to_workers": 0}
        gather, submit = distributed.Client.gather, distributed.Client.submit

        def counting_gather(self, futures, *args, **kwargs):
            found = gather(self, futures, *args, **kwargs)
            sent["to_driver"] += len(pickle.dumps(found))
            return found

        def counting_submit(self, func, *args, **kwargs):
            sent["to_workers"] += len(pickle.dumps(args))
            return submit(self, func, *args, **kwargs)

        distributed.Client.gather, distributed.Client.submit = counting_gather, counting_submit
        start = time.perf_counter()
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        extra["cluster_start_s"] = round(time.perf_counter() - start, 2)
        scheduler = cluster.scheduler_address
    with tempfile.TemporaryDirectory() as workdir:
        start = time.perf_counter()
        result = run_policy(POLICY, source=source, workdir=workdir, batch_rows=batch_rows, engine=engine,
                            scheduler=scheduler)
        wall = time.perf_counter() - start
        summary = {"wall_s": round(wall, 2), "released": result.released, "K": result.anonymity["K"],
                   "rows": result.staged.rows if result.staged else 0, **extra}
        if engine == "dask":
            from distributed import Client

            with Client(scheduler) as client:
                peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
            summary["worker_peak_rss_mib"] = sorted(round(v / 1024, 1) for v in peaks.values())
            summary["bytes_to_driver"] = sent["to_driver"]
            summary["bytes_to_workers"] = sent["to_workers"]
            cluster.close()
        del result
    Path(out).write_text(json.dumps(summary))


def _measure(engine: str, source: Path, batch_rows: int) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        start = time.perf_counter()
        child = subprocess.Popen([sys.executable, __file__, "--child", engine, str(source), str(batch_rows), out.name])
        _, status, usage = os.wait4(child.pid, 0)
        if status != 0:
            raise SystemExit(f"{engine} failed on {source} (status {status})")
        found = json.loads(Path(out.name).read_text())
        found["process_s"] = round(time.perf_counter() - start, 2)
        found["driver_peak_rss_mib"] = round(usage.ru_maxrss / 1024, 1)
        return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["1e6", "1e7"])
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/scale2"))
    parser.add_argument("--batch-rows", type=int, default=250_000)
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    results = {}
    for size in args.sizes:
        rows = int(float(size))
        source = _input(args.data_dir, rows)
        here = {engine: _measure(engine, source, args.batch_rows) for engine in ("streaming", "dask")}
        here["dask_over_streaming"] = round(here["dask"]["wall_s"] / here["streaming"]["wall_s"], 2)
        assert here["dask"]["K"] == here["streaming"]["K"] and here["dask"]["rows"] == here["streaming"]["rows"]
        results[str(rows)] = here
        for engine in ("streaming", "dask"):
            print(f"{rows:>10} rows  {engine:<9}: " + ", ".join(f"{k} {v}" for k, v in here[engine].items()))
        print(f"{rows:>10} rows  dask / streaming wall time: {here['dask_over_streaming']}")
    print(json.dumps({"benchmark": "distributed", "policy": POLICY.name, "batch_rows": args.batch_rows,
                      "results": results}))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        main()
