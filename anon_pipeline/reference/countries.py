"""Offline country name -> UN M49 sub-region -> continent, with the source notebook's cross-continent regions.

Two shipped tables (see ``data/ATTRIBUTION.md``): ``un_m49_countries.csv`` lists every country or area with its
ISO 3166-1 codes, its UN M49 sub-region (the intermediate region where M49 has one) and its continent;
``country_aliases.csv`` maps other names (short, older or Faker-style) to an ISO code. A name matches a table
name, an alias or an ISO code regardless of case, accents, punctuation, a leading "St" for "Saint", or a
trailing bracketed remark ("Bouvet Island (Bouvetoya)").
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from importlib.resources import files

import pandas as pd

#: The source notebook's grouping of the seven continents into four regions.
CROSS_CONTINENT = {
    "Asia": "APAC", "Oceania": "APAC", "Antarctica": "APAC",
    "Europe": "Europe",
    "Africa": "Africa",
    "North America": "The Americas", "South America": "The Americas",
}


def _read(name: str) -> pd.DataFrame:
    with (files("anon_pipeline.reference") / "data" / name).open("rb") as fh:
        return pd.read_csv(fh, dtype="str", keep_default_na=False)  # "NA" is Namibia's ISO code


@lru_cache(maxsize=1)
def countries_table() -> pd.DataFrame:
    """The M49 table, indexed by ISO alpha-3: m49, iso2, name, sub_region, continent."""
    return _read("un_m49_countries.csv").set_index("iso3")


def normalise(name: str) -> str:
    """The form names are matched in: ASCII, lower case, words separated by single spaces."""
    bare = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)).casefold()
    words = re.sub(r"[^a-z0-9]+", " ", bare.replace("&", " and ")).split()
    if words[:1] == ["st"]:
        words[0] = "saint"
    return " ".join(words)


@lru_cache(maxsize=1)
def _index() -> dict[str, str]:
    table = countries_table()
    index = {normalise(code): iso3 for iso3, iso2 in zip(table.index, table["iso2"]) for code in (iso3, iso2)}
    index.update({normalise(n): iso3 for n, iso3 in zip(table["name"], table.index)})
    aliases = _read("country_aliases.csv")
    index.update({normalise(n): iso3 for n, iso3 in zip(aliases["name"], aliases["iso3"])})
    return index


def _iso3(name: str) -> str | None:
    index = _index()
    key = normalise(name)
    if key not in index:
        key = normalise(re.sub(r"\s*\([^)]*\)\s*$", "", name))
    return index.get(key)


def iso3_codes(names: pd.Series) -> pd.Series:
    """ISO alpha-3 code of every name; names the tables do not know are missing."""
    # A number or a date in a country column is no country name: unknown, not a crash.
    codes = {n: _iso3(n) if isinstance(n, str) else None for n in names.dropna().unique().tolist()}
    return names.map(codes).astype(object).where(names.notna(), None)


def _lookup(names: pd.Series, column: str) -> pd.Series:
    table = countries_table()[column]
    return iso3_codes(names).map(lambda code: table.get(code) if code else None)


def sub_regions(names: pd.Series) -> pd.Series:
    """UN M49 sub-region (or intermediate region) of every name; unknown names are missing."""
    return _lookup(names, "sub_region")


def continents(names: pd.Series, extra_aliases: dict[str, str] | None = None) -> pd.Series:
    """Continent (7-continent scheme) of every name; names nobody resolves are missing.

    ``extra_aliases`` maps further names straight to a continent and wins over the tables."""
    mapped = _lookup(names, "continent")
    if extra_aliases:
        extra = {normalise(n): c for n, c in extra_aliases.items()}
        own = names.map(lambda n: extra.get(normalise(n)) if isinstance(n, str) else None)
        mapped = own.where(own.notna(), mapped)
    return mapped.astype("str").where(mapped.notna())
