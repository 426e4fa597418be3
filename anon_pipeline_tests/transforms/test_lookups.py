"""hierarchy, postcode_region, country_continent, regroup: mappings, unknown values, missing values."""

import pandas as pd
import pytest

from anon_pipeline.errors import TransformError
from anon_pipeline_tests.conftest import shared_path
from anon_pipeline_tests.transforms.helpers import run_op


def test_hierarchy_from_arx_csv_at_each_level(tmp_path):
    (tmp_path / "h.csv").write_text("17;15-19;10-19;*\n23;20-24;20-29;*\n", encoding="utf-8")
    values = pd.Series([17, 23, 17], name="age")
    for level, expected in [(0, ["17", "23", "17"]), (2, ["10-19", "20-29", "10-19"]), (3, ["*", "*", "*"])]:
        out, _, _ = run_op("hierarchy", values, base_dir=tmp_path, path="h.csv", level=level)
        assert out.tolist() == expected
    with pytest.raises(TransformError, match="level 4 does not exist"):
        run_op("hierarchy", values, base_dir=tmp_path, path="h.csv", level=4)


def test_hierarchy_unknown_values_error_or_label():
    table = [["a", "ab"], ["b", "ab"]]
    with pytest.raises(TransformError, match="1 distinct value"):
        run_op("hierarchy", ["a", "zzz", "zzz"], table=table, level=1)
    out, _, _ = run_op("hierarchy", ["a", "zzz"], table=table, level=1, unknown_label="other")
    assert out.tolist() == ["ab", "other"]


def test_postcode_region_district_then_area_fallback():
    # LS5 is a real Leeds district; M0U is not a district, but area M is Manchester (North West);
    # BT40 is Northern Ireland; "ZZ9 9ZZ" has no known area.
    values = pd.Series(["LS5 8FN", "M0U 1RA", "BT40 6BW", "ZZ9 9ZZ", None])
    out, _, _ = run_op("postcode_region", values, level="region", unknown_label="NA")
    assert out.tolist() == ["Yorkshire and The Humber", "North West", "Northern Ireland", "NA", "missing"]
    nation, _, _ = run_op("postcode_region", values[:3], level="nation")
    assert nation.tolist() == ["England", "England", "Northern Ireland"]
    district, _, _ = run_op("postcode_region", pd.Series(["ls5 8fn", "W1A"]), level="district")
    assert district.tolist() == ["LS5", "W1A"]
    with pytest.raises(TransformError, match="1 row"):
        run_op("postcode_region", values[:4], level="region", unknown_label=None)


def test_country_continent_and_document_a_regions():
    values = pd.Series(["France", "Korea", "Netherlands Antilles", "Antarctica (the territory South of 60 deg S)",
                        "Libyan Arab Jamahiriya", "Cote d'Ivoire", "Brazil"])
    out, _, _ = run_op("country_continent", values, level="cross_continent")
    assert out.tolist() == ["Europe", "APAC", "The Americas", "APAC", "Africa", "Africa", "The Americas"]
    with pytest.raises(TransformError, match="1 row"):
        run_op("country_continent", ["France", "Atlantis"])
    out, _, _ = run_op("country_continent", ["Atlantis"], aliases={"Atlantis": "Europe"})
    assert out.tolist() == ["Europe"]


def test_every_country_of_the_shared_insurance_file_resolves():
    path = shared_path("data", "insurance", "customer_information.csv")
    names = pd.read_csv(path, dtype="str")["country_of_birth"]
    assert names.nunique() == 237
    out, _, _ = run_op("country_continent", names, level="continent")
    assert out.notna().all()


def test_regroup_merges_and_refuses_unlisted():
    groups = {"compulsory": ["primary", "secondary"], "postgraduate": ["masters", "phD"]}
    out, _, _ = run_op("regroup", ["primary", "phD", None], groups=groups)
    assert out.tolist() == ["compulsory", "postgraduate", "missing"]
    with pytest.raises(TransformError, match="belong to no group"):
        run_op("regroup", ["bachelor"], groups=groups)
    with pytest.raises(Exception, match="two groups"):
        run_op("regroup", ["a"], groups={"x": ["a"], "y": ["a"]})
