"""The privacy: section model, target evaluation and the raw-vs-anonymised report."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from pydantic import ValidationError

from anon_pipeline.criteria import PrivacyTargets, evaluate_targets, planned_checks
from anon_pipeline.metrics import anonymity_report, report_markdown


@pytest.fixture
def anonymised() -> pd.DataFrame:
    # Same classes as the hand-computed table: sizes 3, 4, 3; s per class A A B | A B C C | B C C.
    rows = [("Ox", "Why", "A"), ("Ox", "Why", "A"), ("Ox", "Why", "B"),
            ("Ox", "Zed", "A"), ("Ox", "Zed", "B"), ("Ox", "Zed", "C"), ("Ox", "Zed", "C"),
            ("Gnu", "Why", "B"), ("Gnu", "Why", "C"), ("Gnu", "Why", "C")]
    return pd.DataFrame(rows, columns=["area", "band", "diagnosis"])


def _by_name(results):
    return {r.name: r for r in results}


def test_section_model_defaults_and_errors():
    spec = PrivacyTargets.model_validate({"k": 5, "l": {"variant": "entropy", "l": 2.5}, "k_eps_level": 10})
    assert spec.k_blocking and len(spec.l) == 1 and not spec.l[0].blocking
    assert spec.k_eps_level == 10  # read by the report, not a target
    with pytest.raises(ValidationError, match="unknown key 'K'"):
        PrivacyTargets.model_validate({"K": 500})  # no key is kept unchecked
    with pytest.raises(ValidationError, match="needs c"):
        PrivacyTargets.model_validate({"l": {"variant": "recursive", "l": 2}})
    with pytest.raises(ValidationError, match="whole l"):
        PrivacyTargets.model_validate({"l": {"l": 2.5}})
    with pytest.raises(ValidationError, match="tt"):
        PrivacyTargets.model_validate({"t": {"tt": 0.2}})
    with pytest.raises(ValidationError):
        PrivacyTargets.model_validate({"t": {"t": 1.5}})


def test_targets_pass_and_fail(anonymised):
    section = {
        "k": 3,
        "l": [{"l": 2, "blocking": True}, {"variant": "entropy", "l": 1.8}, {"variant": "entropy", "l": 2},
              {"variant": "recursive", "l": 2, "c": 3}],
        "t": {"t": 0.41},
        "delta": {"delta": 0.5},
        "beta": {"beta": 2},
        "risk": {"prosecutor_max": 0.34, "prosecutor_avg": 0.25, "records_at_risk_share": 0.5, "threshold": 0.3},
    }
    results = evaluate_targets(section, anonymised, ["area", "band"], ["diagnosis"])
    got = [(r.name, r.passed, r.blocking) for r in results]
    assert got == [
        ("k_anonymity", True, True),
        ("l_diversity_diagnosis", True, True),
        ("entropy_l_diversity_diagnosis", True, False),     # exp(H) = 1.89 >= 1.8
        ("entropy_l_diversity_diagnosis_2", False, False),  # ... < 2 (a second target of a kind is numbered)
        ("recursive_c_l_diversity_diagnosis", True, False),  # max r1 / (r2 + ...) = 2 < 3
        ("t_closeness_diagnosis", True, False),             # 0.4 <= 0.41
        ("delta_disclosure_diagnosis", False, False),       # ln(20/9) = 0.80 > 0.5
        ("basic_beta_likeness_diagnosis", True, False),     # 11/9 <= 2
        ("prosecutor_risk_max", True, False),               # 1/3 <= 0.34
        ("prosecutor_risk_avg", False, False),              # 0.3 > 0.25
        ("records_at_risk_share", False, False),            # 0.6 of rows have risk 1/3 > 0.3
    ]
    assert planned_checks(section, ["diagnosis"]) == [(name, blocking) for name, _, blocking in got]
    res = _by_name(results)
    assert res["k_anonymity"].measured == 3 and res["k_anonymity"].target == 3
    assert res["k_anonymity"].metadata["rows_below_k"] == 0
    assert res["recursive_c_l_diversity_diagnosis"].measured == pytest.approx(2.0)
    strict = evaluate_targets({"k": 4, "l": {"variant": "recursive", "l": 2, "c": 2}}, anonymised,
                              ["area", "band"], ["diagnosis"])
    assert [(r.passed, r.blocking) for r in strict] == [(False, True), (False, False)]  # 2 < 2 fails
    assert strict[0].metadata["rows_below_k"] == 6


def test_metadata_holds_no_data_values(anonymised):
    results = evaluate_targets({"k": 2, "l": {"l": 2}, "t": {"t": 0.5}, "risk": {"marketer": 0.5}}, anonymised,
                               ["area", "band"], ["diagnosis"])
    text = json.dumps([r.metadata for r in results])
    for value in ("Ox", "Gnu", "Why", "Zed", '"A"', '"B"', '"C"'):
        assert value not in text


def test_rename_and_ordinal_targets(anonymised):
    df = anonymised.rename(columns={"diagnosis": "dx"})
    results = evaluate_targets({"t": {"t": 0.39, "attribute": "diagnosis", "order": ["A", "B", "C"]}}, df,
                               ["area", "band"], ["dx"], rename={"diagnosis": "dx"})
    assert results[0].name == "t_closeness_dx" and results[0].metadata["distance"] == "ordered"
    assert results[0].measured == pytest.approx(23 / 60) and results[0].passed  # ordered EMD, see hand tests


def test_report_side_by_side_without_raw_values(anonymised):
    raw = anonymised.copy()
    raw["area"] = [f"Street {i}" for i in range(10)]  # raw values must never reach the report
    raw["name"] = [f"Person {i}" for i in range(10)]  # an identifier column, not measured
    report = anonymity_report(raw, anonymised, ["area", "band"], ["diagnosis"], k=3)
    assert report["raw"]["k_anonymity"] == 1 and report["anonymised"]["k_anonymity"] == 3
    assert report["raw"]["rows_below_k"] == 10 and report["anonymised"]["rows_below_k"] == 0
    text = json.dumps(report) + report_markdown(report)
    assert "Street" not in text and "Person" not in text
    md = report_markdown(report)
    assert "| K (k-anonymity) | 1 | 3 |" in md
    assert "| l (distinct l-diversity) | 1 | 2 |" in md
    assert "Gnu" in md  # the anonymised side's smallest classes show generalised values
    assert any("missing" in note for note in report["notes"])
