"""A DP release publishes no figure of the exact input: its reports and manifest hold only what the released
table, the policy and the DP plan give; the full reports stay in the private reports folder. Releases of other
policies are unchanged."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import yaml

import anon_pipeline as ap
from anon_pipeline.metrics.measure import measure
from anon_pipeline.release import read_release_table
from anon_pipeline.reports.dp_release import NOTE
from anon_pipeline.reports.utility import entropy_bits
from anon_pipeline_tests.dp.test_pipeline import dp_policy
from anon_pipeline_tests.pipeline.policies import variant

#: Report fields computed on the input: none may reach a DP release.
INPUT_FIELDS = {"raw", "before", "before_distribution", "rows_before", "entropy_retained", "total_variation",
                "distribution", "synthetic_rows"}
RELEASED_ROWS = 300   # fixed on the step, so it can never coincide with the input's 400 rows


def leaves(doc, path=()):
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from leaves(v, (*path, str(k)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from leaves(v, (*path, str(i)))
    else:
        yield path, doc


def dp_release(tmp_path: Path):
    path = dp_policy(tmp_path)
    doc = yaml.safe_load(path.read_text())
    doc["groups"][0]["steps"][0]["rows"] = RELEASED_ROWS
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    work = tmp_path / "w"
    return ap.run_policy(path, workdir=work), work / "dp_people", pd.read_csv(tmp_path / "people.csv")


def test_a_dp_release_holds_no_figure_of_the_input(tmp_path):
    result, root, source = dp_release(tmp_path)
    folder = result.release_dir
    assert {p.name for p in folder.glob("*.json")} == {"anonymity_report.json", "utility_report.json",
                                                      "manifest.json"}
    released = {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")}
    # The full reports stay private, with their input figures.
    private = {p.stem: json.loads(p.read_text()) for p in (root / "reports").glob("*.json")}
    assert private["utility_report"]["rows_before"] == len(source) == 400
    assert "raw" in private["anonymity_report"] and "synthetic_rows" in private["anonymity_report"]

    for name in ("anonymity_report", "utility_report"):
        assert released[name]["differential_privacy"] == NOTE
        keys = {k for path, _ in leaves(released[name]) for k in path}
        assert not keys & INPUT_FIELDS, f"{name}: {keys & INPUT_FIELDS}"
    # No exact input figure anywhere in the folder: the row count, the mean age, the file's checksum.
    figures = {v for doc in released.values() for _, v in leaves(doc) if isinstance(v, (int, float))}
    assert len(source) not in figures and float(source["age"].mean()) not in figures
    text = "".join(p.read_text() for p in folder.glob("*.json"))
    assert hashlib.sha256((tmp_path / "people.csv").read_bytes()).hexdigest() not in text
    assert released["manifest"]["source_sha256"] is None
    # A blocking check that reads the input says only that it passed.
    checks = released["manifest"]["checks"]
    assert checks["no_identifier_leak"] == {"passed": True, "blocking": True, "value": None,
                                            "description": "reads the input: its figures stay in the private "
                                                           "reports folder"}

    # What is left is post-processing of the released table: recomputed from it alone, it is the same.
    table = read_release_table(folder)
    assert len(table) == RELEASED_ROWS
    utility = released["utility_report"]
    assert utility["rows_after"] == RELEASED_ROWS
    for column in ("sex", "age", "smoker"):
        after = utility["columns"][column]["after"]
        assert after["n"] == RELEASED_ROWS and after["distinct"] == table[column].nunique()
        assert after["entropy_bits"] == round(entropy_bits(table[column]), 6)
    anonymity = released["anonymity_report"]
    measured = measure(table, ["sex", "age"], ["smoker"], suppressed="exclude", suppression_marker="*")
    assert anonymity["anonymised"]["k_anonymity"] == measured["k_anonymity"]
    assert anonymity["anonymised"]["n_rows"] == RELEASED_ROWS
    assert anonymity["all_quasi_identifiers"]["K"] == checks["k_anonymity"]["K"] == measured["k_anonymity"]
    assert anonymity["steps"]["everything[0] dp_mst_synthesis"]["dp"]["epsilon"] == 1.0


def test_other_releases_are_unchanged(tmp_path):
    result = ap.run_policy(variant(tmp_path, privacy__k=2), workdir=tmp_path / "w")
    folder = result.release_dir
    root = tmp_path / "w" / "insurance_customers"
    for name in ("anonymity_report", "utility_report"):
        # The release holds the full report, input side included, as the private folder does.
        released = json.loads((folder / f"{name}.json").read_text())
        assert released == json.loads((root / "reports" / f"{name}.json").read_text())
        assert "differential_privacy" not in released
    assert "raw" in json.loads((folder / "anonymity_report.json").read_text())
    utility = json.loads((folder / "utility_report.json").read_text())
    assert "rows_before" in utility and "dp_utility" not in utility
    manifest = json.loads((folder / "manifest.json").read_text())
    assert len(manifest["source_sha256"]) == 64 and "dp" not in manifest
    assert "leaked_cells" in manifest["checks"]["no_identifier_leak"]


def test_dp_aggregates_beside_a_k_anonymous_table(tmp_path):
    """The aggregates' release holds noisy tables and their epsilons, not the run's id (named after the input's
    checksum); the table beside them is not DP, so its release keeps its full reports."""
    from anon_pipeline_tests.dp.test_aggregates_in_pipeline import DP

    result = ap.run_policy(variant(tmp_path, dp=DP, privacy__k=2), workdir=tmp_path / "w")
    checksum = json.loads((result.release_dir / "manifest.json").read_text())["source_sha256"]
    aggregates = tmp_path / "w" / "insurance_customers" / "release_aggregates" / "latest"
    manifest = (aggregates / "manifest.json").read_text()
    assert len(checksum) == 64 and checksum[:16] not in manifest
    assert json.loads(manifest)["aggregates"]["by_gender"]["epsilon"] == 0.5
    assert "rows_before" in json.loads((result.release_dir / "utility_report.json").read_text())
