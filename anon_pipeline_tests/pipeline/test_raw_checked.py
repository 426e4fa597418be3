"""The raw_schema check's sealed record: Dagster's qi pass types a file the check passed instead of judging every
rule again, and only that content, under those rules and that key."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from anon_pipeline.defs.build import build_definitions
from anon_pipeline.errors import InputDataError
from anon_pipeline.pipeline import raw_schema
from anon_pipeline.pipeline.raw_checked import passed_before, record_passed
from anon_pipeline.pipeline.source import resolve_source
from anon_pipeline.policy import load_policy
from anon_pipeline.sample import generate
from anon_pipeline_tests.pipeline.policies import variant


def _source(tmp_path: Path, rows: int = 200) -> Path:
    path = tmp_path / "export.csv"
    generate("insurance_customers", rows, 4).to_csv(path, index=False)
    return path


def test_a_record_holds_for_that_content_those_rules_and_that_key_only(tmp_path, monkeypatch):
    path = _source(tmp_path)
    policy = load_policy(variant(tmp_path, privacy__k=2))
    src = resolve_source(policy, path, tmp_path / "w")
    staging = tmp_path / "staging"
    assert not passed_before(staging, src, policy)
    record_passed(staging, src, policy)
    assert passed_before(staging, src, policy)
    # Other rules: no record.
    other = load_policy(variant(tmp_path, "other.yaml", privacy__k=3))
    assert not passed_before(staging, src, other)
    # A record edited by hand does not authenticate.
    record = next((staging / "raw-checked").iterdir())
    sealed = bytearray(record.read_bytes())
    sealed[-5] ^= 1
    record.write_bytes(bytes(sealed))
    assert not passed_before(staging, src, policy)
    record_passed(staging, src, policy)
    # Another key: the record proves nothing.
    from cryptography.fernet import Fernet

    monkeypatch.setenv("ANON_PIPELINE_KEY", Fernet.generate_key().decode())
    monkeypatch.delenv("ANON_PIPELINE_KEY_FILE", raising=False)
    assert not passed_before(staging, src, policy)
    record_passed(staging, src, policy)
    # The file changed since the run recorded it: an error, never a silent pass.
    path.write_text(path.read_text().replace("F", "M", 1))
    with pytest.raises(InputDataError, match="changed"):
        passed_before(staging, src, policy)


def test_dagster_judges_the_raw_rules_once(tmp_path, monkeypatch):
    source = _source(tmp_path, 300)
    policy_file = variant(tmp_path, privacy__k=2)
    seen: list[bool] = []
    real = raw_schema.RawValidation.__init__

    def spy(self, *args, trusted=False, **kwargs):
        seen.append(trusted)
        real(self, *args, trusted=trusted, **kwargs)

    monkeypatch.setattr(raw_schema.RawValidation, "__init__", spy)
    defs = build_definitions([policy_file], workdir=str(tmp_path / "w"))
    job = defs.resolve_job_def("insurance_customers_job")
    result = job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
        run_config={"ops": {"insurance_customers__raw": {"config": {"source": str(source)}}}})
    assert result.success
    # The raw_schema check judged every rule; the qi pass then only typed the same content.
    assert seen == [False, True]
