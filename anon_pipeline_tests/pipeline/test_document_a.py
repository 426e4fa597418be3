"""The bundled policy on the shared insurance file reproduces document A's figures (needs ../shared)."""

import pandas as pd
import pytest

import anon_pipeline as ap
from anon_pipeline_tests.pipeline.policies import BUNDLED


@pytest.fixture(scope="module")
def shared_run(tmp_path_factory):
    from anon_pipeline_tests.conftest import shared_path

    source = shared_path("data", "insurance", "customer_information.csv")
    return ap.run_policy(BUNDLED, source=source, workdir=tmp_path_factory.mktemp("docA")), source


def decode(run, column, key):
    table = run.key_tables[key]
    return run.anonymised[column].map(dict(zip(table["code"], table["value"])))


def test_k_over_gender_and_age_band_is_15(shared_run):
    run, _ = shared_run
    assert run.anonymity["K"] == 15
    assert run.released


def test_education_tiers(shared_run):
    run, _ = shared_run
    counts = decode(run, "education_code", "education_tier").value_counts().to_dict()
    assert counts == {"compulsory": 519, "undergraduate": 209, "postgraduate": 164, "other": 108}


def test_cross_continent_regions_within_10(shared_run):
    run, _ = shared_run
    counts = decode(run, "birth_region_code", "birth_region").value_counts().to_dict()
    for region, expected in {"APAC": 334, "Europe": 228, "Africa": 225, "The Americas": 213}.items():
        assert abs(counts[region] - expected) <= 10, (region, counts[region])


def test_postcodes_resolve_no_row_lost_no_nan(shared_run):
    run, source = shared_run
    raw = pd.read_csv(source, dtype="str")
    assert len(run.anonymised) == len(raw)
    regions = decode(run, "home_region_code", "home_region")
    assert (regions != "NA").mean() >= 0.99
    assert run.anonymised.notna().all().all()
    banded = ["age_band", "weight_band_kg", "height_band_m", "drinks_per_week", "cigarettes_per_week",
              "countries_visited_band"]
    assert not run.anonymised[banded].isin(["missing", ""]).any().any()
