"""Offline UK postcode look-ups: postcode -> district (outward code) / area -> ONS region -> nation.

The tables ship with the package (see ``data/ATTRIBUTION.md``). A district the table does not know (many
generated or retired postcodes) falls back to its area, so only postcodes whose area is unknown stay unresolved.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib.resources import files

import pandas as pd

LEVELS = ("district", "area", "region", "nation")
_DATA = files("anon_pipeline.reference") / "data"
_AREA = re.compile(r"^([A-Z]{1,2})")


@lru_cache(maxsize=1)
def district_table() -> pd.DataFrame:
    with (_DATA / "uk_postcode_district_region.csv").open("rb") as fh:
        return pd.read_csv(fh, dtype={"district": "str", "area": "str", "region": "str", "nation": "str"})


@lru_cache(maxsize=1)
def area_table() -> pd.DataFrame:
    with (_DATA / "uk_postcode_area_region.csv").open("rb") as fh:
        return pd.read_csv(fh, dtype={"area": "str", "region": "str", "nation": "str"})


def outward_code(postcodes: pd.Series) -> pd.Series:
    """The outward code (district) of full or partial postcodes: everything before the 3-character inward code."""
    s = postcodes.astype("str").str.upper().str.replace(r"\s+", "", regex=True)
    # A full postcode ends in digit+2 letters (the inward code); an outward code alone is kept as is.
    has_inward = s.str.match(r"^[A-Z0-9]{2,4}[0-9][A-Z]{2}$")
    return s.where(~has_inward, s.str[:-3]).where(postcodes.notna())


def lookup(postcodes: pd.Series, level: str) -> pd.Series:
    """Map postcodes to ``level`` (district, area, region or nation); unknown ones are missing."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}")
    district = outward_code(postcodes)
    area = district.str.extract(_AREA, expand=False)
    if level == "district":
        return district
    if level == "area":
        return area
    by_district = district_table().set_index("district")[level]
    by_area = area_table().set_index("area")[level]
    # Vectorised over distinct values: the tables are small, the input may be millions of rows.
    found = district.map(by_district)
    return found.fillna(area.map(by_area)).astype("str").where(found.notna() | area.map(by_area).notna())
