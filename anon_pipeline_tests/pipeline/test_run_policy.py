"""run_policy end to end on the bundled generated sample: release, failure paths, overrides, replay."""

import hashlib
import json
import stat

import pandas as pd
import pytest

import anon_pipeline as ap
from anon_pipeline.errors import InputDataError, PolicyError
from anon_pipeline.pipeline.anonymise import anonymise, replay
from anon_pipeline.pipeline.qi_table import build_qi_table
from anon_pipeline.pipeline.raw_schema import validate_raw
from anon_pipeline.policy import load_policy
from anon_pipeline.sample import generate
from anon_pipeline_tests.pipeline.policies import BUNDLED, variant


@pytest.fixture(scope="module")
def bundled_run(tmp_path_factory):
    return ap.run_policy(BUNDLED, workdir=tmp_path_factory.mktemp("work"))


def test_bundled_policy_releases_read_only_files(bundled_run):
    r = bundled_run
    assert r.released and r.release_dir is not None
    assert all(passed for name, passed in r.checks.items() if name != "all_quasi_identifiers"), r.checks
    assert r.checks["all_quasi_identifiers"] is False   # the notebook policy narrows k: a warning, not a block
    files = {p.name for p in r.release_dir.iterdir()}
    assert {"anonymised.parquet", "anonymised.csv", "manifest.json", "anonymity_report.json",
            "utility_report.json"} <= files
    for p in r.release_dir.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o440
    assert stat.S_IMODE(r.release_dir.stat().st_mode) == 0o550
    assert (r.release_dir.parent / "latest").resolve() == r.release_dir.resolve()
    released = pd.read_parquet(r.release_dir / "anonymised.parquet")
    assert len(released) == 1000


def test_anonymised_table_has_no_identifiers_no_nan_and_decodable_codes(bundled_run):
    table = bundled_run.anonymised
    assert not {"given_name", "surname", "phone_number", "national_insurance_number",
                "bank_account_number", "current_country", "postcode", "birthdate"} & set(table.columns)
    assert table.notna().all().all()
    assert table["guid"].is_unique
    assert bundled_run.anonymity["K"] >= 10
    assert bundled_run.anonymity["quasi_identifiers"] == ["gender", "age_band"]
    edu = bundled_run.key_tables["education_tier"]
    decoded = table["education_code"].map(dict(zip(edu["code"], edu["value"])))
    assert set(decoded) <= {"compulsory", "undergraduate", "postgraduate", "other"} and decoded.notna().all()


def test_failed_k_check_releases_nothing_and_keeps_the_last_good_release(tmp_path):
    good = ap.run_policy(BUNDLED, workdir=tmp_path)
    strict = variant(tmp_path, privacy__k=5000)
    before = sorted(p.name for p in (tmp_path / "insurance_customers" / "release").iterdir())
    result = ap.run_policy(strict, workdir=tmp_path)
    assert not result.released and result.release_dir is None
    assert result.checks["k_anonymity"] is False
    assert "K = " in result.failed_checks["k_anonymity"]
    after = sorted(p.name for p in (tmp_path / "insurance_customers" / "release").iterdir())
    assert before == after
    assert (tmp_path / "insurance_customers" / "release" / "latest").resolve() == good.release_dir.resolve()


def test_source_override_and_raw_file_unchanged(tmp_path):
    source = tmp_path / "this_month.csv"
    generate("insurance_customers", 250, 3).to_csv(source, index=False)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    result = ap.run_policy(BUNDLED, source=source, workdir=tmp_path / "w")
    assert len(result.anonymised) == 250
    assert hashlib.sha256(source.read_bytes()).hexdigest() == digest


def test_bad_input_raises_one_clear_error_without_values(tmp_path):
    frame = generate("insurance_customers", 100, 4)
    frame.loc[:4, "weight"] = 250.5
    frame.loc[:1, "birthdate"] = ["15/07/1984", "01/02/1990"]
    source = tmp_path / "bad.csv"
    frame.to_csv(source, index=False)
    with pytest.raises(InputDataError) as info:
        ap.run_policy(BUNDLED, source=source, workdir=tmp_path / "w")
    text = str(info.value)
    assert str(source) in text
    assert "column 'weight'" in text and "5 row(s)" in text and "in range" in text
    assert "column 'birthdate'" in text and "2 row(s)" in text and "%d/%m/%Y" in text
    assert "250.5" not in text and "15/07/1984" not in text
    assert not (tmp_path / "w" / "insurance_customers" / "release").exists()


def test_column_the_policy_does_not_mention_is_an_error(tmp_path):
    frame = generate("insurance_customers", 50, 5).assign(favourite_colour="blue")
    source = tmp_path / "extra.csv"
    frame.to_csv(source, index=False)
    with pytest.raises(InputDataError, match="favourite_colour.*not declared by the policy"):
        ap.run_policy(BUNDLED, source=source, workdir=tmp_path)


def test_unknown_op_fails_at_load(tmp_path):
    path = variant(tmp_path, columns__weight={"role": "quasi_identifier", "dtype": "float",
                                              "steps": [{"op": "nope"}]})
    with pytest.raises(PolicyError, match="column 'weight'.*unknown op"):
        ap.run_policy(path, workdir=tmp_path)


def test_plan_replays_on_new_data():
    policy = load_policy(BUNDLED)
    first, _ = build_qi_table(validate_raw(generate("insurance_customers", 300, 1).astype("str"), policy, "a"),
                              policy)
    fitted = anonymise(first, policy)
    second, _ = build_qi_table(validate_raw(generate("insurance_customers", 200, 2).astype("str"), policy, "b"),
                               policy)
    replayed = replay(second, policy, fitted.plan)
    assert fitted.plan["columns"] == replayed.plan["columns"]
    # The same education tier gets the same code in both batches.
    codes = fitted.plan["columns"]["education_level"][1]["plan"]["codes"]
    assert set(replayed.table["education_code"]) <= set(codes.values())


def test_utility_report_lists_distributions_before_and_after_without_rare_raw_values(bundled_run):
    columns = bundled_run.utility["columns"]
    education = columns["education_code"]
    # Encoded columns: the raw distribution beside the coded one would be a code book, so it is never listed.
    for name in ("education_code", "birth_region_code", "home_region_code"):
        assert "before_distribution" not in columns[name]
        assert "frequencies" in columns[name]["pseudonymisation"] and "linkage" in columns[name]["pseudonymisation"]
    assert not {"primary", "secondary", "bachelor", "masters", "phD", "other"} & set(json.dumps(education).split('"'))
    assert sum(education["after_distribution"].values()) == 1000
    assert all(count >= 5 for name, count in columns["blood_group"]["before_distribution"].items()
               if not name.startswith("<"))


def test_each_release_names_the_key_tables_that_decode_it(tmp_path):
    from anon_pipeline.secrets import read_encrypted_table, resolve_key

    runs = [ap.run_policy(BUNDLED, workdir=tmp_path) for _ in range(2)]
    key = resolve_key().key
    for run in runs:
        manifest = json.loads((run.release_dir / "manifest.json").read_text())
        folder = tmp_path / "insurance_customers" / manifest["key_tables"]
        table = read_encrypted_table(folder / "education_tier.parquet.enc", key)
        released = pd.read_parquet(run.release_dir / "anonymised.parquet")
        decoded = released["education_code"].map(dict(zip(table["code"], table["value"])))
        assert decoded.notna().all()
        assert decoded.value_counts().sum() == len(released)
    # Fresh codes every run, so the two releases need different key tables.
    assert runs[0].plan["columns"] != runs[1].plan["columns"]


def test_a_settled_file_is_hashed_again_only_when_its_stat_changes(tmp_path, monkeypatch):
    import os
    import time

    import anon_pipeline.pipeline.source as source_module

    source = tmp_path / "export.csv"
    generate("insurance_customers", 30, 6).to_csv(source, index=False)
    policy = load_policy(BUNDLED)
    # Just written: it may be written again within the same tick of the clock, so its stat is not trusted.
    assert source_module.resolve_source(policy, source, tmp_path / "w").stat is None
    settled = time.time_ns() - 10**10
    os.utime(source, ns=(settled, settled))
    recorded = source_module.resolve_source(policy, source, tmp_path / "w")
    assert recorded.stat is not None
    # A descriptor's trip through JSON (Dagster's) keeps it, hashable.
    travelled = source_module.SourceFile(**json.loads(json.dumps(recorded.as_dict())))
    assert travelled == recorded and hash(travelled) == hash(recorded)
    real, hashed = source_module._readable_sha256, []
    monkeypatch.setattr(source_module, "_readable_sha256", lambda path: hashed.append(path) or real(path))
    assert len(source_module.read_source(travelled, policy)) == 30 and hashed == []
    # The same bytes with another time: hashed, and still the recorded file.
    os.utime(source, ns=(settled + 10**9, settled + 10**9))
    assert len(source_module.read_source(recorded, policy)) == 30 and len(hashed) == 1
    # Other bytes of the same size: hashed, and refused.
    source.write_bytes(source.read_bytes().replace(b",F,", b",M,", 1))
    with pytest.raises(InputDataError, match="changed or disappeared after the run recorded it"):
        source_module.read_source(recorded, policy)


def test_a_file_replaced_after_it_was_recorded_is_refused(tmp_path):
    from anon_pipeline.pipeline.source import read_source, resolve_source

    source = tmp_path / "export.csv"
    generate("insurance_customers", 30, 6).to_csv(source, index=False)
    policy = load_policy(BUNDLED)
    recorded = resolve_source(policy, source, tmp_path / "w")
    assert len(read_source(recorded, policy)) == 30
    generate("insurance_customers", 31, 6).to_csv(source, index=False)
    with pytest.raises(InputDataError, match="changed or disappeared after the run recorded it"):
        read_source(recorded, policy)


def test_a_parquet_file_overwritten_while_it_is_read_is_said_to_have_changed(tmp_path):
    import pyarrow.parquet as pq

    from anon_pipeline.pipeline.batches import read_batches
    from anon_pipeline.pipeline.source import resolve_source

    source = tmp_path / "export.parquet"
    frame = generate("insurance_customers", 3000, 6)
    pq.write_table(pa_table(frame), source, row_group_size=500)
    policy = load_policy(BUNDLED)
    recorded = resolve_source(policy, source, tmp_path / "w")
    batches = read_batches(recorded, policy, 500)
    assert len(next(batches)) == 500
    # Overwritten in place (as cp does) by a smaller export, while the rest is still to be read.
    with source.open("r+b") as fh:
        small = tmp_path / "small.parquet"
        pq.write_table(pa_table(frame.head(10)), small)
        fh.truncate(0)
        fh.write(small.read_bytes())
    with pytest.raises(InputDataError, match="changed or disappeared after the run recorded it"):
        list(batches)


def pa_table(frame):
    import pyarrow as pa

    return pa.Table.from_pandas(frame, preserve_index=False)


def test_a_csv_cut_short_and_a_parquet_named_csv_say_what_is_wrong(tmp_path):
    from anon_pipeline.pipeline.batches import read_batches
    from anon_pipeline.pipeline.source import resolve_source

    policy = load_policy(BUNDLED)
    frame = generate("insurance_customers", 3000, 6)
    cut = tmp_path / "cut.csv"
    text = frame.to_csv(index=False)
    cut.write_text(text[: len(text) - len(text.splitlines()[-1]) // 2])  # the last record cut in its middle
    with pytest.raises(InputDataError, match=r"a record has \d+ field\(s\) where the header has 18") as caught:
        list(read_batches(resolve_source(policy, cut, tmp_path / "w"), policy, 1000))
    assert frame.iloc[-1]["surname"] not in str(caught.value)  # counts, never the record
    misnamed = tmp_path / "export.csv"
    frame.to_parquet(misnamed)
    with pytest.raises(InputDataError, match="is a parquet file") as caught:
        list(read_batches(resolve_source(policy, misnamed, tmp_path / "w"), policy, 1000))
    assert "source.format: parquet" in str(caught.value)
