"""The qi pass run ahead by Dagster's raw_schema check: the qi_table asset adopts what the check made (the file is
read once), and only for that content, under those rules and that key, once."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from anon_pipeline.defs.build import build_definitions
from anon_pipeline.errors import InputDataError
from anon_pipeline.pipeline import raw_schema
from anon_pipeline.pipeline.qi_ahead import adopt, leave
from anon_pipeline.pipeline.source import SourceFile, resolve_source
from anon_pipeline.pipeline.staged import StagedTable
from anon_pipeline.policy import Policy, load_policy
from anon_pipeline.sample import generate
from anon_pipeline_tests.pipeline.policies import variant


def _source(tmp_path: Path, rows: int = 200) -> Path:
    path = tmp_path / "export.csv"
    generate("insurance_customers", rows, 4).to_csv(path, index=False)
    return path


def _setup(tmp_path: Path) -> tuple[Path, Policy, SourceFile, Path]:
    """(the source file, a policy, its resolved source, a staging folder)."""
    path = _source(tmp_path)
    policy = load_policy(variant(tmp_path, privacy__k=2))
    return path, policy, resolve_source(policy, path, tmp_path / "w"), tmp_path / "staging"


def _outputs(staging: Path) -> dict:
    table = StagedTable.create(staging, "qi_table", 1)
    table.write_part(pd.DataFrame({"a": [1, 2]}), 0, 0)
    return {"qi_table": (table.as_dict(), {"rows": 2}), "contract": (None, {})}


def test_outputs_are_adopted_for_that_content_those_rules_and_that_key_only_and_once(tmp_path, monkeypatch):
    path, policy, src, staging = _setup(tmp_path)
    assert adopt(staging, src, policy) is None
    outputs = _outputs(staging)
    leave(staging, src, policy, outputs)
    found = adopt(staging, src, policy)
    assert found is not None and found["qi_table"] == outputs["qi_table"] and found["contract"] == (None, {})
    assert StagedTable.of(found["qi_table"][0]).frame()["a"].tolist() == [1, 2]
    assert adopt(staging, src, policy) is None  # adopted once
    # Other rules: nothing to adopt.
    leave(staging, src, policy, _outputs(staging))
    other = load_policy(variant(tmp_path, "other.yaml", privacy__k=3))
    assert adopt(staging, src, other) is None
    # A record edited by hand does not authenticate.
    record = next((staging / "qi-ahead").iterdir())
    sealed = bytearray(record.read_bytes())
    sealed[-5] ^= 1
    record.write_bytes(bytes(sealed))
    assert adopt(staging, src, policy) is None
    # Another key: the record proves nothing.
    leave(staging, src, policy, _outputs(staging))
    from cryptography.fernet import Fernet

    monkeypatch.setenv("ANON_PIPELINE_KEY", Fernet.generate_key().decode())
    monkeypatch.delenv("ANON_PIPELINE_KEY_FILE", raising=False)
    assert adopt(staging, src, policy) is None
    leave(staging, src, policy, _outputs(staging))
    # The file changed since the run recorded it: an error, never a silent adoption.
    path.write_text(path.read_text().replace("F", "M", 1))
    with pytest.raises(InputDataError, match="changed"):
        adopt(staging, src, policy)


def test_a_record_that_lost_a_table_is_not_adopted_and_its_other_tables_go(tmp_path):
    _, policy, src, staging = _setup(tmp_path)
    outputs = _outputs(staging)
    contract = StagedTable.create(staging, "contract", 1)
    contract.write_part(pd.DataFrame({"row": [0, 1]}), 0, 0)
    outputs["contract"] = (contract.as_dict(), {})
    leave(staging, src, policy, outputs)
    StagedTable.of(outputs["qi_table"][0]).remove()
    assert adopt(staging, src, policy) is None
    assert not Path(contract.folder).exists()
    assert not list((staging / "qi-ahead").iterdir())


def test_a_record_nobody_adopted_is_replaced_with_its_tables(tmp_path):
    _, policy, src, staging = _setup(tmp_path)
    first = _outputs(staging)
    leave(staging, src, policy, first)
    second = _outputs(staging)
    leave(staging, src, policy, second)
    assert not Path(first["qi_table"][0]["folder"]).exists()
    # An hour-old record of other content goes too.
    other = load_policy(variant(tmp_path, "other.yaml", privacy__k=3))
    old = _outputs(staging)
    leave(staging, src, other, old)
    leave(staging, src, other, _outputs(staging))
    assert not Path(old["qi_table"][0]["folder"]).exists()  # same content, same rules: replaced
    assert Path(second["qi_table"][0]["folder"]).exists()   # other rules, an hour not yet past: kept
    for record in (staging / "qi-ahead").iterdir():
        os.utime(record, (time.time() - 7200, time.time() - 7200))
    leave(staging, src, other, _outputs(staging))
    assert not Path(second["qi_table"][0]["folder"]).exists()
    assert len(list((staging / "qi-ahead").iterdir())) == 1


def _run_job(tmp_path: Path, source: Path, policy_file: Path):
    defs = build_definitions([policy_file], workdir=str(tmp_path / "w"))
    job = defs.resolve_job_def("insurance_customers_job")
    return job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
        run_config={"ops": {"insurance_customers__raw": {"config": {"source": str(source)}}}})


def test_dagster_reads_and_judges_the_raw_file_once(tmp_path, monkeypatch):
    source = _source(tmp_path, 300)
    policy_file = variant(tmp_path, privacy__k=2)
    judged: list[str] = []
    real = raw_schema.RawValidation.__init__

    def spy(self, *args, **kwargs):
        judged.append(str(args[1]))
        real(self, *args, **kwargs)

    monkeypatch.setattr(raw_schema.RawValidation, "__init__", spy)
    result = _run_job(tmp_path, source, policy_file)
    assert result.success
    assert judged == [str(source)]
    # The qi_table asset's table is the one the check's pass wrote, and nothing is left to adopt.
    check = next(e for e in result.get_asset_check_evaluations() if e.check_name == "raw_schema")
    assert check.passed and check.metadata["rows"].value == 300
    qi = result.output_for_node("insurance_customers__qi_table", "qi_table")
    assert Path(qi["folder"]).is_dir() and StagedTable.of(qi).rows == 300
    staging = tmp_path / "w" / "insurance_customers" / "staging"
    assert not list((staging / "qi-ahead").glob("*.enc*"))


def test_a_failed_raw_check_leaves_nothing_to_adopt(tmp_path):
    source = _source(tmp_path, 300)
    frame = pd.read_csv(source)
    frame.loc[3, "gender"] = "X"  # not one of the declared values
    frame.to_csv(source, index=False)
    result = _run_job(tmp_path, source, variant(tmp_path, privacy__k=2))
    check = next(e for e in result.get_asset_check_evaluations() if e.check_name == "raw_schema")
    assert not check.passed
    staging = tmp_path / "w" / "insurance_customers" / "staging"
    assert not list(staging.glob("qi-ahead/*")) and not list(staging.glob("qi_table-*"))
