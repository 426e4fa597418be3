"""The pipeline at data-engineering scale (issue 9): the bundled insurance policy against the same transformation
written by hand in pandas, DuckDB SQL and Polars, on parquet input of 1e5, 1e6 (and 1e7) rows.

Per size, the input is the seeded insurance sample (``anon-pipeline sample``, streamed to parquet). Each engine
runs in a fresh subprocess, so its peak resident memory (``wait4``'s ``ru_maxrss``) and CPU time are its own:

- ``run_policy``: ``anon_pipeline.run_policy(policies/insurance_customers.yaml, source=FILE)``, with the time of
  each stage and check of the stage graph it walks;
- ``dagster``: ``dagster asset materialize`` of every asset of the policy, the file passed as run config of the
  ``raw`` asset, on a Dagster instance (``DAGSTER_HOME``) made once per benchmark before any run is timed, as a
  data engineer's instance exists before a scheduled run (making one, its SQLite storages, takes about 0.4 s more);
  compared with run_policy twice: the whole process (``dagster``'s start, its imports and loading the code location
  included) and the run alone (the run's start to its end as Dagster records it and its UI shows it, against the
  ``run_policy`` call, whose process start and imports are left out alike);
- ``pandas``, ``duckdb``, ``polars``: the same transformation by hand, as a data engineer would write it: drop
  the identifiers, age bands from the birth date, bands of the numeric columns, countries and postcodes to
  regions through look-up tables, regroup, draw random codes for the categories, compute K over
  (gender, age band) and write parquet; no validation, reports, checks or CSV.

Our package's bytecode is compiled before any run is timed, as installing a wheel compiles it (an editable
install compiles it on first import, or, where ``PYTHONDONTWRITEBYTECODE`` is set, on every run).

Each size runs every engine ``--repeat`` times (3 by default), the engines taking turns; the figures of an engine
are those of its run of median wall time, and the JSON line lists every run's wall time (``wall_s_runs``).

Prints per size wall time, CPU time, peak RSS and the ratios to pandas; then the growth exponent of time and
memory (the slope of log(value) against log(rows)); ends with one JSON line. Every engine's K is printed: they
must agree. Needs the ``bench`` extra (duckdb, polars).

    python benchmarks/scale.py [--sizes 1e5 1e6] [--engines run_policy dagster pandas duckdb polars]
                               [--repeat 3] [--timeout 3600] [--data-dir DIR]

1e7 rows: ``--sizes 1e5 1e6 1e7`` (0.35 GiB of parquet input, made by the streaming generator in about 11 s of CPU
with 0.26 GiB peak RSS, the same as at 1e6 rows; printed per size and in the JSON line as ``inputs``; kept across
runs with ``--data-dir``). run_policy and Dagster run the streaming engine (batches of ``source.batch_rows``,
250,000 by default); the reports and checks read counts of the staged tables (taken by the passes that write them),
whose memory grows with the distinct rows (about the rows on the raw side): give 1e7 a ``--timeout`` of several
minutes.

Targets (issue 9): at 1e6 rows run_policy <= 2x the pandas script's wall time and <= 1.5 GiB; at 1e7 <= 120 s
and <= 2 GiB; time growth exponent <= 1.1; Dagster <= 1.3x run_policy at 1e6 (the run alone: a Dagster
process also pays for importing Dagster and loading the code location, about 1 s whatever the table's size).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

POLICY = ROOT / "policies" / "insurance_customers.yaml"
ENGINES = ("run_policy", "dagster", "pandas", "duckdb", "polars")
SEED = 7
REFERENCE_DATE = (2022, 12, 15)
QUASI_IDENTIFIERS = ("gender", "age_band")   # the policy's privacy.quasi_identifiers, by output name
# The policy's bands: (input column, output column, edges, labels or None for interval labels).
BANDS = [("weight", "weight_band_kg", [30, 40, 50, 60, 70, 80, 90, 100], None),
         ("height", "height_band_m", [1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0], None),
         ("n_countries_visited", "countries_visited_band", list(range(0, 60, 5)), None),
         ("avg_n_drinks_per_week", "drinks_per_week", [0, 6, 12, 100], ["low", "medium", "high"]),
         ("avg_n_cigret_per_week", "cigarettes_per_week", [0, 40, 175, 500], ["light", "medium", "heavy"])]
AGE_EDGES = [0, 20, 40, 60, 80]
EDUCATION = {"primary": "compulsory", "secondary": "compulsory", "bachelor": "undergraduate",
             "masters": "postgraduate", "phD": "postgraduate", "other": "other"}
KEPT = ["gender", "birthdate", "country_of_birth", "postcode", "education_level", "blood_group", "cc_status",
        *(b[0] for b in BANDS)]


def interval_labels(edges: list[float]) -> list[str]:
    """The ``band`` op's labels: right-closed, the lowest edge included."""
    return [f"{'[' if i == 0 else '('}{a:g}, {b:g}]" for i, (a, b) in enumerate(zip(edges, edges[1:]))]


def random_codes(categories: list[str]) -> dict[str, str]:
    """Opaque random codes per category, as the ``encode`` op draws them (CSPRNG)."""
    return dict(zip(categories, (secrets.token_hex(3) for _ in categories)))


# ---- the look-up tables the hand-written engines join with ----------------------------------------------------
def lookup_paths(folder: Path) -> dict[str, str]:
    return {name: str(folder / f"{name}.parquet") for name in ("country", "district", "area")}


def write_lookups(folder: Path) -> None:
    """Country -> region and postcode district/area -> region group, from the package's reference data: what a
    data engineer would keep as small tables. Built once, outside the timings (in a subprocess: the parent stays
    small, since a child's peak RSS counts the parent's at the fork)."""
    import pandas as pd
    import yaml

    from anon_pipeline.reference.countries import CROSS_CONTINENT, continents
    from anon_pipeline.reference.postcodes import area_table, district_table
    from anon_pipeline.sample.insurance import EnglishAddress

    policy = yaml.safe_load(POLICY.read_text())
    region_steps = policy["columns"]["postcode"]["steps"]
    groups = {v: g for g, members in region_steps[1]["groups"].items() for v in members}
    countries = pd.Series(sorted(set(EnglishAddress.countries)), dtype="str")
    country = pd.DataFrame({"country_of_birth": countries,
                            "birth_region": continents(countries).map(CROSS_CONTINENT).fillna("Unknown")})
    district = district_table()[["district", "region"]].assign(home_region=lambda t: t["region"].map(groups))
    area = area_table()[["area", "region"]].assign(home_region=lambda t: t["region"].map(groups))
    paths = lookup_paths(folder)
    country.to_parquet(paths["country"], index=False)
    district[["district", "home_region"]].to_parquet(paths["district"], index=False)
    area[["area", "home_region"]].to_parquet(paths["area"], index=False)


# ---- the engines (each runs in its own subprocess) ------------------------------------------------------------
def engine_run_policy(source: str, out: str, lookups: dict[str, str]) -> dict:
    import anon_pipeline.pipeline.run as run_module

    stages: dict[str, list[float]] = {}

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            start, cpu = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                wall_cpu = stages.setdefault(name, [0.0, 0.0])
                wall_cpu[0] += time.perf_counter() - start
                wall_cpu[1] += time.process_time() - cpu
        return wrapper

    # Every stage and check of the stage graph run_policy walks, timed by name.
    import dataclasses
    real_graph = run_module.stage_graph

    def timed_graph(policy):
        graph = real_graph(policy)
        return dataclasses.replace(
            graph, stages=tuple(dataclasses.replace(s, fn=timed(s.name, s.fn)) for s in graph.stages),
            checks=tuple(dataclasses.replace(c, fn=timed(f"check {c.name}", c.fn)) for c in graph.checks))
    run_module.stage_graph = timed_graph
    start = time.perf_counter()
    result = run_module.run_policy(POLICY, source=source, workdir=out)
    return {"K": int(result.anonymity["K"]), "released": result.released,
            "run_s": round(time.perf_counter() - start, 2),
            "stages": {k: {"wall_s": round(w, 3), "cpu_s": round(c, 3)} for k, (w, c) in stages.items()}}


def engine_dagster(source: str, out: str, lookups: dict[str, str]) -> dict:
    name = POLICY.stem
    config = {"ops": {f"{name}__raw": {"config": {"source": source}}}}
    home = dagster_home(Path(out).parent)
    env = {**os.environ, "DAGSTER_HOME": str(home), "ANON_PIPELINE_WORKDIR": str(Path(out) / "work"),
           "ANON_PIPELINE_POLICIES": str(POLICY)}
    dagster = Path(sys.executable).parent / "dagster"
    done = subprocess.run([str(dagster), "asset", "materialize", "-m", "anon_pipeline.definitions",
                           "--select", f"key:{name}/*", "--config-json", json.dumps(config)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"dagster asset materialize exited {done.returncode}: {done.stderr[-2000:]}")
    report = json.loads((Path(out) / "work" / name / "reports" / "anonymity_report.json").read_text())
    return {"K": int(report["anonymised"]["k_anonymity"]), "run_s": recorded_run_seconds(home)}


def recorded_run_seconds(home: Path) -> float:
    """The latest run's duration as Dagster records it and its UI shows it (its start to its end), read from the
    instance's SQLite run storage: importing Dagster here to ask it would add to this process's time."""
    import sqlite3

    with sqlite3.connect(home / "history" / "runs.db") as db:
        start, end = db.execute("SELECT start_time, end_time FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    return round(end - start, 2)


def compile_package() -> None:
    """Our package's bytecode, written before any run is timed, as ``pip install`` of a wheel writes it. An
    editable install (``make``'s) leaves it to the first import, and where ``PYTHONDONTWRITEBYTECODE`` is set every
    run compiles every module of the package again (about 0.15 s a run that a deployed pipeline does not pay)."""
    import compileall

    compileall.compile_dir(ROOT / "anon_pipeline", quiet=1)


def dagster_home(folder: Path) -> Path:
    """The benchmark's Dagster instance (one per benchmark run, in its temporary folder): made, storages and all,
    the first time it is asked for."""
    home = folder / "dagster_home"
    if not home.is_dir():
        home.mkdir(parents=True)
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        subprocess.run([sys.executable, "-c", "import dagster as dg; i = dg.DagsterInstance.get(); "
                        "i.get_runs(limit=1); i.fetch_materializations(dg.AssetKey('x'), limit=1)"],
                       env={**os.environ, "DAGSTER_HOME": str(home)}, check=True, capture_output=True)
    return home


def engine_pandas(source: str, out: str, lookups: dict[str, str]) -> dict:
    import numpy as np
    import pandas as pd

    df = pd.read_parquet(source, columns=KEPT)
    born = pd.to_datetime(df["birthdate"], format="%Y-%m-%d")
    year, month, day = REFERENCE_DATE
    age = year - born.dt.year - ((born.dt.month > month) | ((born.dt.month == month) & (born.dt.day > day)))
    res = pd.DataFrame({"gender": df["gender"]})
    res["age_band"] = pd.cut(age, [-np.inf, *AGE_EDGES[1:-1], np.inf], labels=interval_labels(AGE_EDGES))
    country = pd.read_parquet(lookups["country"])
    birth = df[["country_of_birth"]].merge(country, how="left", on="country_of_birth")["birth_region"]
    res["birth_region_code"] = birth.map(random_codes(sorted(country["birth_region"].unique()))).to_numpy()
    compact = df["postcode"].str.upper().str.replace(" ", "", regex=False)
    codes = pd.DataFrame({"district": compact.str[:-3], "area": compact.str.extract(r"^([A-Z]{1,2})", expand=False)})
    by_district = codes.merge(pd.read_parquet(lookups["district"]), how="left", on="district")["home_region"]
    by_area = codes.merge(pd.read_parquet(lookups["area"]), how="left", on="area")["home_region"]
    region = by_district.fillna(by_area).fillna("NA")
    res["home_region_code"] = region.map({g: str(i) for i, g in enumerate(sorted(region.unique()))}).to_numpy()
    tier = df["education_level"].map(EDUCATION)
    res["education_code"] = tier.map(random_codes(sorted(set(EDUCATION.values()))))
    for column, output, edges, labels in BANDS:
        res[output] = pd.cut(df[column], [-np.inf, *edges[1:-1], np.inf], labels=labels or interval_labels(edges))
    res["blood_group"], res["cc_status"] = df["blood_group"], df["cc_status"]
    k = int(res.groupby(list(QUASI_IDENTIFIERS), observed=True).size().min())
    res.to_parquet(Path(out) / "anonymised.parquet", index=False)
    return {"K": k}


def _sql_band(column: str, edges: list[float], labels: list[str]) -> str:
    cases = " ".join(f"WHEN {column} <= {e} THEN '{lab}'" for e, lab in zip(edges[1:-1], labels))
    return f"CASE {cases} ELSE '{labels[-1]}' END"


def engine_duckdb(source: str, out: str, lookups: dict[str, str]) -> dict:
    import duckdb

    year, month, day = REFERENCE_DATE
    con = duckdb.connect()
    country_regions = [r[0] for r in con.execute(f"SELECT DISTINCT birth_region FROM '{lookups['country']}' "
                                                 "ORDER BY 1").fetchall()]
    region_groups = sorted({r[0] for r in con.execute(f"SELECT home_region FROM '{lookups['district']}' UNION "
                                                      f"SELECT home_region FROM '{lookups['area']}'").fetchall()
                            if r[0] is not None} | {"NA"})

    def code_table(name: str, codes: dict[str, str]) -> None:
        values = ", ".join(f"('{k}', '{v}')" for k, v in codes.items())
        con.execute(f"CREATE TEMP TABLE {name}(value VARCHAR, code VARCHAR); INSERT INTO {name} VALUES {values}")

    code_table("birth_codes", random_codes(country_regions))
    code_table("home_codes", {g: str(i) for i, g in enumerate(region_groups)})
    code_table("education_codes", {level: code for tier, code in random_codes(sorted(set(EDUCATION.values()))).items()
                                   for level, t in EDUCATION.items() if t == tier})
    bands = ",\n".join(f"{_sql_band(c, e, lab or interval_labels(e))} AS {o}" for c, o, e, lab in BANDS)
    con.execute(f"""
        CREATE TEMP TABLE res AS
        WITH src AS (
            SELECT *, CAST(birthdate AS DATE) AS born, replace(upper(postcode), ' ', '') AS compact
            FROM read_parquet('{source}')),
        aged AS (
            SELECT *, {year} - year(born) - CASE WHEN month(born) > {month}
                OR (month(born) = {month} AND day(born) > {day}) THEN 1 ELSE 0 END AS age,
                left(compact, length(compact) - 3) AS district, regexp_extract(compact, '^([A-Z]{{1,2}})', 1) AS area
            FROM src)
        SELECT gender, {_sql_band('age', AGE_EDGES, interval_labels(AGE_EDGES))} AS age_band,
               bc.code AS birth_region_code,
               hc.code AS home_region_code, ec.code AS education_code, {bands}, blood_group, cc_status
        FROM aged
        LEFT JOIN '{lookups['country']}' c USING (country_of_birth)
        LEFT JOIN birth_codes bc ON bc.value = c.birth_region
        LEFT JOIN '{lookups['district']}' d ON d.district = aged.district
        LEFT JOIN '{lookups['area']}' a ON a.area = aged.area
        LEFT JOIN home_codes hc ON hc.value = coalesce(d.home_region, a.home_region, 'NA')
        LEFT JOIN education_codes ec ON ec.value = aged.education_level""")
    k = con.execute(f"SELECT min(n) FROM (SELECT count(*) AS n FROM res GROUP BY {', '.join(QUASI_IDENTIFIERS)})"
                    ).fetchone()[0]
    con.execute(f"COPY res TO '{Path(out) / 'anonymised.parquet'}' (FORMAT parquet)")
    return {"K": int(k)}


def engine_polars(source: str, out: str, lookups: dict[str, str]) -> dict:
    import polars as pl

    year, month, day = REFERENCE_DATE
    country = pl.read_parquet(lookups["country"])
    birth_codes = random_codes(sorted(country["birth_region"].unique().to_list()))
    district, area = pl.read_parquet(lookups["district"]), pl.read_parquet(lookups["area"])
    groups = sorted(set(district["home_region"].drop_nulls()) | set(area["home_region"].drop_nulls()) | {"NA"})
    tier_codes = random_codes(sorted(set(EDUCATION.values())))

    def band(expr: pl.Expr, edges: list[float], labels: list[str]) -> pl.Expr:
        return expr.cut(edges[1:-1], labels=labels).cast(pl.String)

    born = pl.col("birthdate").str.to_date("%Y-%m-%d")
    age = year - born.dt.year() - ((born.dt.month() > month) | ((born.dt.month() == month) & (born.dt.day() > day))
                                   ).cast(pl.Int32)
    compact = pl.col("postcode").str.to_uppercase().str.replace_all(" ", "", literal=True)
    frame = (
        pl.scan_parquet(source).select(KEPT)
        .with_columns(compact.str.slice(0, compact.str.len_chars() - 3).alias("district"),
                      compact.str.extract(r"^([A-Z]{1,2})", 1).alias("area"), age.alias("age"))
        .join(country.lazy(), on="country_of_birth", how="left")
        .join(district.lazy(), on="district", how="left")
        .join(area.lazy().rename({"home_region": "area_region"}), on="area", how="left")
        .select(
            pl.col("gender"), band(pl.col("age"), AGE_EDGES, interval_labels(AGE_EDGES)).alias("age_band"),
            pl.col("birth_region").replace_strict(birth_codes, default=None).alias("birth_region_code"),
            pl.coalesce("home_region", "area_region", pl.lit("NA"))
            .replace_strict({g: str(i) for i, g in enumerate(groups)}).alias("home_region_code"),
            pl.col("education_level").replace_strict(EDUCATION).replace_strict(tier_codes).alias("education_code"),
            *(band(pl.col(c), e, lab or interval_labels(e)).alias(o) for c, o, e, lab in BANDS),
            pl.col("blood_group"), pl.col("cc_status"))
        .collect())
    k = frame.group_by(list(QUASI_IDENTIFIERS)).len()["len"].min()
    frame.write_parquet(Path(out) / "anonymised.parquet")
    return {"K": int(k)}


ENGINE_FUNCTIONS = {"run_policy": engine_run_policy, "dagster": engine_dagster, "pandas": engine_pandas,
                    "duckdb": engine_duckdb, "polars": engine_polars}


# ---- the parent: inputs, subprocesses, figures ---------------------------------------------------------------
def make_input(rows: int, folder: Path) -> tuple[Path, dict]:
    """The seeded sample as parquet, made once per folder by ``anon-pipeline sample`` (streamed, atomic); with the
    generator's wall and CPU seconds and peak RSS when it ran now (empty when the file was already there)."""
    path = folder / f"insurance_customers_{rows}_{SEED}.parquet"
    if path.exists():
        return path, {}
    log = folder / f"sample_{rows}.stderr"
    start = time.perf_counter()
    with log.open("wb") as err:
        pid = subprocess.Popen([sys.executable, "-m", "anon_pipeline.cli", "sample", "--rows", str(rows), "--seed",
                                str(SEED), "--out", str(path)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err).pid
    _, status, usage = os.wait4(pid, 0)   # this child's own peak RSS
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"anon-pipeline sample failed: {log.read_text(errors='replace').strip()}")
    return path, {"wall_s": round(time.perf_counter() - start, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
                  "peak_rss_mib": round(usage.ru_maxrss / 1024, 1)}


def median_run(runs: list[dict]) -> dict:
    """The figures of the run of median wall time (of the lower middle one for an even count), with every run's
    wall time; a failed run counts as the slowest."""
    ranked = sorted(runs, key=lambda f: ("error" in f, f["wall_s"]))
    figures = {**ranked[(len(ranked) - 1) // 2], "wall_s_runs": [f["wall_s"] for f in runs]}
    if all("run_s" in f for f in runs):
        figures["run_s_runs"] = [f["run_s"] for f in runs]
        figures["run_s"] = sorted(figures["run_s_runs"])[(len(runs) - 1) // 2]
    return figures


def run_child(engine: str, source: Path, lookups: dict[str, str], folder: Path, timeout: float) -> dict:
    """One engine in a fresh process: wall and CPU seconds, peak RSS (of it and the processes it waited for)."""
    out = Path(tempfile.mkdtemp(prefix=f"{engine}_", dir=folder))
    # A throwaway key under the run's folder (never the user's): the run encrypts its key tables with it.
    env = {k: v for k, v in os.environ.items() if k not in ("ANON_PIPELINE_KEY", "ANON_PIPELINE_KEY_FILE")}
    env["XDG_CONFIG_HOME"] = str(out / "config")
    result_file, log = out / "result.json", out / "stderr.txt"
    cmd = [sys.executable, __file__, "--child", engine, "--source", str(source), "--out", str(out),
           "--lookups", json.dumps(lookups), "--result", str(result_file)]
    start = time.perf_counter()
    with log.open("wb") as err:
        pid = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err).pid
    # wait4 gives this child's own resource use (its peak RSS, not the largest of every child so far).
    timed_out = False
    while True:
        done, _, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if time.perf_counter() - start > timeout:
            os.kill(pid, 9)
            _, _, usage = os.wait4(pid, 0)
            timed_out = True
            break
        time.sleep(0.05)
    figures = {"engine": engine, "wall_s": round(time.perf_counter() - start, 2),
               "cpu_s": round(usage.ru_utime + usage.ru_stime, 2), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1)}
    if result_file.exists():
        figures.update(json.loads(result_file.read_text()))
    else:
        lines = log.read_text(errors="replace").strip().splitlines()
        figures["error"] = f"timed out after {timeout:.0f} s" if timed_out else (lines[-1] if lines else "failed")
    return figures


def _shown(value: float | None, spec: str) -> str:
    """A figure in its column, or n/a (a ratio to pandas when pandas did not run)."""
    width = int(spec.split(".")[0])
    return format(value, spec) if value is not None else "n/a".rjust(width)


def slope(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of log(y) against log(x): 1 is linear growth."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if y and y > 0]
    if len(pts) < 2:
        return None
    mx, my = sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)
    den = sum((p[0] - mx) ** 2 for p in pts)
    return round(sum((p[0] - mx) * (p[1] - my) for p in pts) / den, 3) if den else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["1e5", "1e6"], help="row counts (1e7 works too: see above)")
    ap.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per engine run")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each engine per size (the median is reported)")
    ap.add_argument("--data-dir", help="where to keep the generated inputs (default: a temporary folder)")
    ap.add_argument("--child", choices=ENGINES, help=argparse.SUPPRESS)
    ap.add_argument("--source", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--lookups", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    ap.add_argument("--write-lookups", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.write_lookups:
        write_lookups(Path(args.write_lookups))
        return 0
    if args.child:
        figures = ENGINE_FUNCTIONS[args.child](args.source, args.out, json.loads(args.lookups))
        Path(args.result).write_text(json.dumps(figures))
        return 0

    sizes = [int(float(s)) for s in args.sizes]
    with tempfile.TemporaryDirectory(prefix="anon_scale_") as tmp:
        folder = Path(tmp)
        data = Path(args.data_dir) if args.data_dir else folder
        data.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, __file__, "--write-lookups", str(folder)], cwd=ROOT, check=True)
        compile_package()
        if "dagster" in args.engines:
            dagster_home(folder)  # before any run is timed
        lookups = lookup_paths(folder)
        results: dict[int, dict[str, dict]] = {}
        inputs: dict[int, dict] = {}
        for rows in sizes:
            source, inputs[rows] = make_input(rows, data)
            made = (f"made in {inputs[rows]['wall_s']:.1f} s, {inputs[rows]['cpu_s']:.1f} s CPU, "
                    f"{inputs[rows]['peak_rss_mib']:.0f} MiB peak" if inputs[rows] else "reused")
            print(f"\n{rows:,} rows (input {source.stat().st_size / 2**20:.1f} MiB parquet, {made})")
            print(f"  {'engine':<11} {'wall s':>8} {'cpu s':>8} {'peak MiB':>9} {'x pandas':>9} {'mem x':>6}  K")
            runs: dict[str, list[dict]] = {engine: [] for engine in args.engines}
            for _ in range(max(1, args.repeat)):
                for engine in args.engines:
                    runs[engine].append(run_child(engine, source, lookups, folder, args.timeout))
            results[rows] = {engine: median_run(found) for engine, found in runs.items()}
            for engine, found in runs.items():
                for n, f in enumerate(found, 1):
                    if "error" in f:  # counted as the slowest run; said here, whichever run is the median
                        print(f"  {engine} run {n} of {len(found)} failed after {f['wall_s']:.1f} s: {f['error']}")
            base = results[rows].get("pandas", {})
            for engine, f in results[rows].items():
                if "wall_s" in base and "error" not in f:
                    f["x_pandas_time"] = round(f["wall_s"] / base["wall_s"], 2)
                    if f.get("peak_rss_mib") and base.get("peak_rss_mib"):
                        f["x_pandas_memory"] = round(f["peak_rss_mib"] / base["peak_rss_mib"], 2)
                print(f"  {engine:<11} {f['wall_s']:>8.1f} {_shown(f.get('cpu_s'), '8.1f')} "
                      f"{_shown(f.get('peak_rss_mib'), '9.0f')} {_shown(f.get('x_pandas_time'), '9.2f')} "
                      f"{_shown(f.get('x_pandas_memory'), '6.2f')}  {f.get('K', f.get('error'))}")
            if "stages" in results[rows].get("run_policy", {}) and "run_s" in results[rows]["run_policy"]:
                figures = results[rows]["run_policy"]
                stages = figures["stages"]
                # What the run_policy call does not account for: the interpreter's start, the imports, the exit (the
                # stages' own times overlap where run_policy computes a report ahead, so they are no measure of it).
                figures["outside_run_s"] = round(figures["wall_s"] - figures["run_s"], 2)
                print("  run_policy stages (wall / cpu s): " + ", ".join(
                    f"{k} {v['wall_s']:.2f} / {v['cpu_s']:.2f}" for k, v in
                    sorted(stages.items(), key=lambda kv: -kv[1]["cpu_s"])))
                print(f"  run_policy outside the run_policy call (interpreter, imports, exit): "
                      f"{figures['outside_run_s']:.2f} s")
            dagster, direct = results[rows].get("dagster", {}), results[rows].get("run_policy", {})
            if "run_s" in dagster and "run_s" in direct:
                dagster["x_run_policy"] = {"process": round(dagster["wall_s"] / direct["wall_s"], 2),
                                           "run": round(dagster["run_s"] / direct["run_s"], 2)}
                print(f"  Dagster / run_policy: whole process {dagster['x_run_policy']['process']:.2f} "
                      f"({dagster['wall_s']:.2f} / {direct['wall_s']:.2f} s); the run alone "
                      f"{dagster['x_run_policy']['run']:.2f} ({dagster['run_s']:.2f} s as Dagster records it, start "
                      f"to end / {direct['run_s']:.2f} s in run_policy)")
            ks = {f["K"] for f in results[rows].values() if "K" in f}
            if len(ks) > 1:
                print(f"  WARNING: the engines disagree on K: {ks}")
        growth = {}
        if len(sizes) > 1:
            print("\ngrowth exponent (log-log slope over the sizes): wall time / CPU time / peak memory")
            for engine in args.engines:
                runs = [results[n][engine] for n in sizes]
                growth[engine] = {key: slope(sizes, [r.get(field) if "error" not in r else None for r in runs])
                                  for key, field in (("time", "wall_s"), ("cpu", "cpu_s"), ("memory", "peak_rss_mib"))}
                print(f"  {engine:<11} {growth[engine]['time']} / {growth[engine]['cpu']} / {growth[engine]['memory']}")
    print(json.dumps({"benchmark": "scale", "seed": SEED, "cpus": os.cpu_count(),
                      "sizes": {str(n): results[n] for n in sizes}, "growth_exponent": growth,
                      "inputs": {str(n): inputs[n] for n in sizes}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
