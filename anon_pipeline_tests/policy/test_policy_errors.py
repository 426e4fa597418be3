"""Policy errors name the policy file, the column and the field."""

from pathlib import Path

import pytest
import yaml

from anon_pipeline.errors import PolicyError
from anon_pipeline.policy import load_policy

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "policies" / "insurance_customers.yaml"


def write(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load(BUNDLED.read_text())
    mutate(data)
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_bundled_policy_loads():
    policy = load_policy(BUNDLED)
    assert policy.name == "insurance_customers"
    assert policy.k_quasi_identifiers == ["gender", "birthdate"]
    assert "given_name" in policy.identifiers and "given_name" not in policy.kept_columns


@pytest.mark.parametrize("mutate, column, field, text", [
    (lambda d: d["columns"]["weight"]["steps"][0].update(op="bandd"), "weight", "columns.weight.steps[0].op",
     "unknown op 'bandd'"),
    (lambda d: d["columns"]["weight"]["steps"][0].update(edges=[5, 1]), "weight",
     "columns.weight.steps[0].params.edges", "strictly increasing"),
    (lambda d: d["columns"]["height"]["steps"][0].update(colour="red"), "height",
     "columns.height.steps[0].params.colour", "unknown key 'colour'"),
    (lambda d: d["columns"]["gender"].update(role="quasi"), "gender", "columns.gender.role", "Input should be"),
    (lambda d: d["columns"]["surname"].update(steps=[{"op": "band", "edges": [0, 1]}]), "surname",
     "columns.surname.steps[0].op", "may not process a direct identifier"),
    (lambda d: d["columns"]["current_country"].update(steps=[{"op": "encode"}]), "current_country",
     "columns.current_country.steps", "dropped column"),
])
def test_errors_name_file_column_and_field(tmp_path, mutate, column, field, text):
    path = write(tmp_path, mutate)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    err = info.value
    assert err.column == column and err.field == field
    message = str(err)
    assert str(path.resolve()) in message or str(path) in message
    assert f"column '{column}'" in message and text in message


def test_privacy_set_must_name_quasi_identifiers(tmp_path):
    path = write(tmp_path, lambda d: d["privacy"].update(quasi_identifiers=["gender", "blood_group"]))
    with pytest.raises(PolicyError, match="blood_group"):
        load_policy(path)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(PolicyError, match="file not found"):
        load_policy(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(PolicyError, match="not valid YAML at line"):
        load_policy(bad)


def test_names_must_be_usable_as_asset_key_prefixes(tmp_path):
    path = write(tmp_path, lambda d: d.update(name="1 bad name"))
    with pytest.raises(PolicyError, match="field 'name'"):
        load_policy(path)
