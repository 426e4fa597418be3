"""The shipped M49 country table: integrity, name matching, and document A's regions on the shared file."""

import subprocess
import sys

import pandas as pd
import pytest
from faker.providers.address.en import Provider as EnglishAddress

from anon_pipeline.reference.countries import (CROSS_CONTINENT, _read, continents, countries_table, iso3_codes,
                                               sub_regions)
from anon_pipeline_tests.conftest import shared_path


def test_table_codes_are_unique_and_every_continent_has_a_region():
    table = countries_table()
    assert table.index.is_unique and table["iso2"].is_unique and table["name"].is_unique
    assert len(table) >= 249
    assert set(table["continent"]) == set(CROSS_CONTINENT)
    assert table.loc["NAM", "iso2"] == "NA"  # Namibia's code is not read as a missing value
    aliases = _read("country_aliases.csv")
    assert set(aliases["iso3"]) <= set(table.index)


@pytest.mark.parametrize("name, iso3", [
    ("Germany", "DEU"), ("germany", "DEU"), ("Côte d’Ivoire", "CIV"), ("Cote d'Ivoire", "CIV"), ("DEU", "DEU"),
    ("gb", "GBR"), ("St Lucia", "LCA"), ("Bouvet Island (Bouvetoya)", "BVT"), ("Svalbard & Jan Mayen Islands", "SJM"),
    ("Korea, Republic of", "KOR"), ("Reunion", "REU"), ("Atlantis", None),
])
def test_names_match_regardless_of_case_accents_punctuation(name, iso3):
    assert iso3_codes(pd.Series([name])).tolist() == [iso3]


def test_every_faker_country_resolves():
    names = pd.Series(sorted(set(EnglishAddress.countries)))
    assert continents(names).notna().all() and sub_regions(names).notna().all()


def test_sub_regions_follow_m49():
    names = pd.Series(["Kenya", "Mexico", "Cyprus", "Nauru", "Brazil", None])
    regions = sub_regions(names)
    assert regions[:5].tolist() == ["Eastern Africa", "Central America", "Western Asia", "Micronesia",
                                    "South America"]
    assert pd.isna(regions[5])
    assert continents(names).tolist()[:3] == ["Africa", "North America", "Europe"]


def test_document_a_regions_on_the_shared_file_are_unchanged():
    path = shared_path("data", "insurance", "customer_information.csv")
    names = pd.read_csv(path, dtype="str")["country_of_birth"]
    counts = continents(names).map(CROSS_CONTINENT).value_counts().to_dict()
    assert counts == {"APAC": 338, "Europe": 228, "Africa": 225, "The Americas": 209}


def test_no_gpl_country_library_is_imported():
    code = ("import sys, pandas as pd; from anon_pipeline.hierarchies.builders import countries; "
            "countries(pd.Series(['France'])); print('country_converter' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
