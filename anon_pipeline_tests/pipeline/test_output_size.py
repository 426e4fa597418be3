"""A synthesised release of another size than the input: allowed only when every kept column is synthesised."""

from pathlib import Path

import pytest
import yaml

import anon_pipeline as ap
from anon_pipeline.errors import TransformError

ROOT = Path(__file__).resolve().parents[2]


def flights_policy(tmp_path: Path, rows: int, *, keep_airline_outside: bool = False) -> Path:
    data = yaml.safe_load((ROOT / "policies" / "flights_synthesis.yaml").read_text())
    data["source"]["sample"]["rows"] = 2000
    step = data["groups"][0]["steps"][0]
    step["rows"] = rows
    if keep_airline_outside:
        data["groups"][0]["columns"].remove("airline")
        step["discrete"] = [c for c in step["discrete"] if c != "airline"]
        data["privacy"]["quasi_identifiers"] = data["groups"][0]["columns"]
    path = tmp_path / "flights.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_fully_synthetic_release_of_another_size(tmp_path):
    result = ap.run_policy(flights_policy(tmp_path, 5000), workdir=tmp_path / "w")
    assert len(result.anonymised) == 5000
    assert result.anonymised["guid"].is_unique
    assert result.released


def test_other_size_with_a_real_column_left_is_refused(tmp_path):
    with pytest.raises(TransformError, match="not synthesised: \\['airline'\\]"):
        ap.run_policy(flights_policy(tmp_path, 5000, keep_airline_outside=True), workdir=tmp_path / "w")
