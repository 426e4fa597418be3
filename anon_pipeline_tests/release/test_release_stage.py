"""The pipeline's release stage with secrets at rest: encrypted key tables, plan and contract, the encrypted zip,
the manifest, a fresh machine's key file, and a blocked run leaving the last good release untouched."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from pathlib import Path

import pandas as pd
import pytest
import yaml

from anon_pipeline import run_policy
from anon_pipeline.release import read_release_table, verify_release
from anon_pipeline.secrets import decrypt_bytes, read_encrypted_table, resolve_key
from anon_pipeline_tests.release.bad_inputs import POLICY, clean_table


@pytest.fixture
def policy_file(tmp_path) -> Path:
    doc = yaml.safe_load(POLICY.read_text())
    doc["release"] = {"formats": ["parquet", "csv"], "contract": True, "encrypted_zip": True}
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_a_release_keeps_every_secret_encrypted_and_apart(policy_file, tmp_path, isolated_keys, caplog):
    with caplog.at_level(logging.WARNING):
        result = run_policy(policy_file, workdir=tmp_path / "work")
    assert result.released
    key_file = isolated_keys / "anon_pipeline" / "secrets.key"
    # A fresh machine: the key file was made outside the repository and the run said where.
    assert key_file.is_file() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert str(key_file) in caplog.text
    key = resolve_key().key
    secrets_dir = tmp_path / "work" / "insurance_customers" / "key_tables"
    assert not list(secrets_dir.rglob("*.parquet")) and not list(secrets_dir.rglob("*.json"))
    plan_dir = secrets_dir / json.loads((result.release_dir / "manifest.json").read_text())["plan_id"]
    for name, table in result.key_tables.items():
        pd.testing.assert_frame_equal(read_encrypted_table(plan_dir / f"{name}.parquet.enc", key), table)
    plan, meta = decrypt_bytes((plan_dir / "plan.json.enc").read_bytes(), key)
    assert meta["format"] == "json" and json.loads(plan) == json.loads(json.dumps(result.plan, default=str))
    contract = read_encrypted_table(secrets_dir / "contracts" / f"{result.release_dir.name}.parquet.enc", key)
    assert sorted(contract["source_row"]) == list(range(len(result.anonymised)))
    assert set(contract["guid"]) == set(read_release_table(result.release_dir)["guid"])

    manifest = json.loads((result.release_dir / "manifest.json").read_text())
    assert manifest["policy_hash"] == hashlib.sha256(policy_file.read_bytes()).hexdigest()
    assert manifest["seed"] == yaml.safe_load(policy_file.read_text())["seed"]
    assert manifest["checks"]["k_anonymity"]["value"] == result.anonymity["K"]
    assert manifest["checks"]["no_identifier_leak"]["value"] == 0
    # The manifest holds every check of the released table; the run also reports the input's and the release's.
    assert set(manifest["checks"]) == set(result.checks) - {"raw_schema", "qi_table_schema", "release_schema"}
    assert all(c["value"] == c.get("measured", c["value"]) for c in manifest["checks"].values())
    password_file = Path(manifest["encrypted_zip"]["password_file"])
    assert password_file.parent == secrets_dir / "zip_passwords"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o400
    assert verify_release(result.release_dir) == []


def test_a_blocked_run_leaves_the_last_release_and_writes_no_contract(policy_file, tmp_path):
    work = tmp_path / "work"
    good = run_policy(policy_file, workdir=work)
    small = tmp_path / "small.csv"
    clean_table(200).to_csv(small, index=False)      # 200 rows: K falls below k = 10
    blocked = run_policy(policy_file, source=small, workdir=work)
    assert not blocked.released and "k_anonymity" in blocked.failed_checks
    releases = work / "insurance_customers" / "release"
    assert os.readlink(releases / "latest") == good.release_dir.name
    assert sorted(p.name for p in releases.iterdir() if not p.name.startswith(".")) == [good.release_dir.name, "latest"]
    contracts = list((work / "insurance_customers" / "key_tables" / "contracts").iterdir())
    assert [p.name for p in contracts] == [f"{good.release_dir.name}.parquet.enc"]
    assert verify_release(good.release_dir) == []


def test_fully_synthetic_rows_have_no_contract(tmp_path):
    doc = yaml.safe_load((POLICY.parent / "flights_synthesis.yaml").read_text())
    doc["source"]["sample"]["rows"] = 2000
    doc["groups"][0]["steps"][0]["rows"] = 2500       # another size: every row is fresh, with a fresh GUID
    doc["release"] = {"formats": ["parquet"], "contract": True}
    path = tmp_path / "flights.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = run_policy(path, workdir=tmp_path / "work")
    assert result.released and len(result.anonymised) == 2500
    assert not list((tmp_path / "work").glob(f"{doc['name']}/key_tables/contracts/*"))
