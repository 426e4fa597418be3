"""Monthly partitions and plan reuse: one source file and one release per month; with ``plan: {reuse: latest}``
every month's release carries the same codes (and K over their union is reported), with ``plan: refit`` each
month draws its own."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import anon_pipeline as ap
from anon_pipeline.cli import main
from anon_pipeline.errors import PolicyError, TransformError
from anon_pipeline.pipeline.qi_table import GUID
from anon_pipeline.policy import load_policy
from anon_pipeline.release import sha256_file
from anon_pipeline.sample import generate
from anon_pipeline.secrets import encryption_key, read_encrypted_table
from anon_pipeline_tests.pipeline.policies import variant

MONTHS = ["2024-01", "2024-02", "2024-03"]
MONTHLY = {"monthly": {"start": "2024-01", "source": "exports/customers_{month}.csv"}}
CODED = {"education_level": "education_code", "country_of_birth": "birth_region_code"}


def monthly_files(tmp_path: Path, rows: int = 300) -> dict[str, Path]:
    (tmp_path / "exports").mkdir(exist_ok=True)
    files = {}
    for i, month in enumerate(MONTHS):
        files[month] = tmp_path / "exports" / f"customers_{month}.csv"
        generate("insurance_customers", rows, 100 + i).to_csv(files[month], index=False)
    return files


def monthly_policy(tmp_path: Path, plan, **changes) -> Path:
    return variant(tmp_path, privacy__k=2, partitions=MONTHLY, plan=plan, release__contract=True, **changes)


def value_codes(release_dir: Path, source: Path, workdir: Path, column: str) -> dict[str, str]:
    """Source value -> released code of ``column``, through the release's contract (source row <-> GUID)."""
    policy_dir = workdir / "insurance_customers"
    contract = read_encrypted_table(policy_dir / "key_tables" / "contracts" / f"{release_dir.name}.parquet.enc",
                                    encryption_key())
    released = pd.read_parquet(release_dir / "anonymised.parquet")
    raw = pd.read_csv(source, dtype="str")
    joined = contract.merge(released[[GUID, CODED[column]]], on=GUID)
    pairs = pd.DataFrame({"value": raw[column].to_numpy()[joined["source_row"].to_numpy()],
                          "code": joined[CODED[column]].to_numpy()})
    per_value = pairs.groupby("value")["code"].nunique()
    assert (per_value == 1).all()  # within one release, a value has one code
    return dict(pairs.drop_duplicates("value").itertuples(index=False, name=None))


def manifest(release_dir: Path) -> dict:
    return json.loads((release_dir / "manifest.json").read_text())


def test_reuse_latest_gives_every_month_the_same_codes_and_reports_k_over_the_union(tmp_path):
    files = monthly_files(tmp_path)
    policy = monthly_policy(tmp_path, {"reuse": "latest"})
    work = tmp_path / "w"
    results = {m: ap.run_policy(policy, workdir=work, partition=m) for m in MONTHS}
    assert all(r.released for r in results.values())
    for month, r in results.items():
        assert r.release_dir.parent == work / "insurance_customers" / "release" / month
        assert (r.release_dir.parent / "latest").resolve() == r.release_dir
        assert manifest(r.release_dir)["partition"] == month
    # The first month fits (nothing to reuse yet); the others replay its plan.
    assert [r.plan_reused for r in results.values()] == [False, True, True]
    assert len({r.plan_id for r in results.values()}) == 1
    for column in CODED:
        codes = [value_codes(results[m].release_dir, files[m], work, column) for m in MONTHS]
        shared = set(codes[0]) & set(codes[1]) & set(codes[2])
        assert shared and all(c[v] == codes[0][v] for c in codes for v in shared)
    # K over the union of the three releases, computed here from the released files.
    union = results["2024-03"].anonymity["report"]["union"]
    tables = pd.concat([pd.read_parquet(results[m].release_dir / "anonymised.parquet") for m in MONTHS])
    k_cols = ["gender", "age_band"]
    assert union["rows"] == len(tables) and union["quasi_identifiers"] == k_cols
    assert union["K"] == tables.groupby(k_cols, dropna=False).size().min()
    every_qi = union["all_quasi_identifiers"]["quasi_identifiers"]
    assert union["all_quasi_identifiers"]["K"] == tables.groupby(every_qi, dropna=False).size().min()
    assert {r["partition"] for r in union["releases"]} == set(MONTHS)
    check = next(o for o in results["2024-03"].check_details if o.name == "union_k_anonymity")
    assert not check.blocking and check.metadata["measured"] == union["K"]
    assert results["2024-01"].anonymity["report"]["union"]["rows"] == len(results["2024-01"].anonymised)


@pytest.mark.parametrize("plan", [{"reuse": "latest"}, "refit"])
def test_a_replayed_plan_that_misses_k_says_it_was_replayed(tmp_path, plan):
    """A month too small for k: the failure says the plan was replayed, and how to fit one, only when it was."""
    files = monthly_files(tmp_path)
    generate("insurance_customers", 6, 200).to_csv(files["2024-02"], index=False)
    policy = monthly_policy(tmp_path, plan)
    work = tmp_path / "w"
    first = ap.run_policy(policy, workdir=work, partition="2024-01")
    second = ap.run_policy(policy, workdir=work, partition="2024-02")
    assert first.released and not second.released
    why = second.failed_checks["k_anonymity"]
    replayed = f"this run replayed plan {first.plan_id} (plan: reuse)"
    assert (replayed in why and "--plan refit" in why) if plan != "refit" else "replayed" not in why


def test_refit_draws_new_codes_every_month(tmp_path):
    files = monthly_files(tmp_path)
    policy = monthly_policy(tmp_path, "refit")
    work = tmp_path / "w"
    results = {m: ap.run_policy(policy, workdir=work, partition=m) for m in MONTHS[:2]}
    assert len({r.plan_id for r in results.values()}) == 2 and not any(r.plan_reused for r in results.values())
    assert "union_k_anonymity" not in results["2024-02"].checks
    first, second = (value_codes(results[m].release_dir, files[m], work, "education_level") for m in MONTHS[:2])
    assert all(first[v] != second[v] for v in set(first) & set(second))


def test_a_category_the_plan_never_saw_is_an_error_naming_column_and_count(tmp_path):
    files = monthly_files(tmp_path)
    january = pd.read_csv(files["2024-01"], dtype="str")
    january[january["education_level"] != "other"].to_csv(files["2024-01"], index=False)
    n_other = int((pd.read_csv(files["2024-02"], dtype="str")["education_level"] == "other").sum())
    policy = monthly_policy(tmp_path, {"reuse": "latest"})
    work = tmp_path / "w"
    assert ap.run_policy(policy, workdir=work, partition="2024-01").released
    with pytest.raises(TransformError) as info:
        ap.run_policy(policy, workdir=work, partition="2024-02")
    text = str(info.value)
    assert "'education_level'" in text and "'encode'" in text and f"{n_other} row(s)" in text
    assert "1 distinct value(s)" in text
    assert "'other'" not in text  # counts, never the value
    assert not (work / "insurance_customers" / "release" / "2024-02").exists()


def test_a_stored_plan_by_id_and_the_cli(tmp_path, capsys):
    monthly_files(tmp_path)
    policy = monthly_policy(tmp_path, "refit")
    work = tmp_path / "w"
    first = ap.run_policy(policy, workdir=work, partition="2024-01")
    ap.run_policy(policy, workdir=work, partition="2024-02")  # a second, newer plan
    assert main(["run", str(policy), "--workdir", str(work), "--partition", "2024-03",
                 "--plan", first.plan_id]) == 0
    out = capsys.readouterr().out
    assert f"plan:       {first.plan_id} (reused)" in out and "union of 2 release(s)" in out
    assert manifest(work / "insurance_customers" / "release" / "2024-03" / "latest")["plan_id"] == first.plan_id
    assert main(["plans", str(policy), "--workdir", str(work)]) == 0
    listing = capsys.readouterr().out
    assert listing.count("fitted 20") == 2 and f"{first.plan_id}  fitted" in listing
    assert "2024-01/" in listing and "2024-03/" in listing and f"latest: {first.plan_id}" in listing
    assert main(["where", str(policy), "--workdir", str(work)]) == 0
    where = capsys.readouterr().out
    assert "partition 2024-03" in where and "/release/2024-03/" in where
    assert main(["run", str(policy), "--workdir", str(work), "--partition", "2024-13"]) == 2
    assert main(["run", str(policy), "--workdir", str(work)]) == 2
    assert "name the partition" in capsys.readouterr().err
    assert main(["run", str(policy), "--workdir", str(work), "--partition", "2024-02", "--plan", "0" * 16]) == 2
    assert "is not stored" in capsys.readouterr().err


def test_a_plan_fitted_for_other_steps_is_refused(tmp_path):
    monthly_files(tmp_path)
    work = tmp_path / "w"
    first = ap.run_policy(monthly_policy(tmp_path, "refit"), workdir=work, partition="2024-01")
    edited = monthly_policy(tmp_path, {"reuse": first.plan_id},
                            columns__education_level__steps=[{"op": "encode", "key_table": "education"}])
    with pytest.raises(PolicyError, match="fitted for other steps of 'education_level'"):
        ap.run_policy(edited, workdir=work, partition="2024-02")


@pytest.mark.parametrize("partitions, error", [
    ({"monthly": {"start": "2024-01"}}, "needs source"),
    ({"monthly": {"start": "2024-1", "source": "x_{month}.csv"}}, "YYYY-MM"),
    ({"monthly": {"start": "2024-01", "source": "x.csv"}}, "{month}"),
    ({"daily": {"start": "2024-01-01", "source": "x_{month}.csv"}}, "{day}"),
    ({"static": ["north", "north"], "source": "x_{partition}.csv"}, "distinct keys"),
    ({"static": ["../up"], "source": "x_{partition}.csv"}, "distinct keys"),
    ({"static": ["a"], "monthly": {"start": "2024-01", "source": "x_{month}.csv"}}, "exactly one"),
])
def test_bad_partitions_are_refused_at_load(tmp_path, partitions, error):
    with pytest.raises(PolicyError, match=error.replace("{", r"\{").replace("}", r"\}")):
        load_policy(variant(tmp_path, partitions=partitions))


def test_partitions_refuse_a_fixed_source_and_plan_ids_are_checked(tmp_path):
    with pytest.raises(PolicyError, match="remove source.path"):
        load_policy(variant(tmp_path, partitions=MONTHLY, source={"path": "x.csv"}))
    with pytest.raises(PolicyError, match="plan id"):
        load_policy(variant(tmp_path, plan={"reuse": "../../etc"}))
    with pytest.raises(PolicyError, match="no partitions"):
        ap.run_policy(variant(tmp_path), workdir=tmp_path / "w", partition="2024-01")


def test_static_partitions_read_their_file_and_release_per_key(tmp_path):
    (tmp_path / "exports").mkdir()
    for i, key in enumerate(["north", "south"]):
        generate("insurance_customers", 200, 7 + i).to_csv(tmp_path / "exports" / f"{key}.csv", index=False)
    policy = variant(tmp_path, privacy__k=2,
                     partitions={"static": ["north", "south"], "source": "exports/{partition}.csv"})
    result = ap.run_policy(policy, workdir=tmp_path / "w", partition="south")
    assert result.released and result.release_dir.parent.name == "south"
    raw = pd.read_csv(tmp_path / "exports" / "south.csv", dtype="str")
    assert manifest(result.release_dir)["source_sha256"] == sha256_file(tmp_path / "exports" / "south.csv")
    assert len(result.anonymised) == len(raw)


def test_a_synthesis_plan_is_not_replayed_on_another_number_of_rows(tmp_path):
    import yaml

    data = yaml.safe_load((Path(__file__).resolve().parents[2] / "policies" / "flights_synthesis.yaml").read_text())
    del data["source"]
    data.update(partitions={"static": ["a", "b"], "source": "{partition}.csv"}, plan={"reuse": "latest"})
    data["privacy"] = {"k": 1}
    policy = tmp_path / "flights.yaml"
    policy.write_text(yaml.safe_dump(data, sort_keys=False))
    for key, rows in (("a", 400), ("b", 500)):
        generate("flights", rows, 3).to_csv(tmp_path / f"{key}.csv", index=False)
    assert ap.run_policy(policy, workdir=tmp_path / "w", partition="a").released
    with pytest.raises(PolicyError, match="as 400 rows, the number it was fitted on; this input has 500"):
        ap.run_policy(policy, workdir=tmp_path / "w", partition="b")
