"""Offline country name -> continent, with document A's cross-continent regions.

Names are resolved by the maintained ``country_converter`` library (regex matching of country names, offline
data) plus a small alias table for names it no longer knows.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from importlib.resources import files

import pandas as pd

#: Document A's grouping of continents (country_converter's 7-continent scheme) into four regions.
CROSS_CONTINENT = {
    "Asia": "APAC", "Oceania": "APAC", "Antarctica": "APAC",
    "Europe": "Europe",
    "Africa": "Africa",
    "North America": "The Americas", "South America": "The Americas",
}


@lru_cache(maxsize=1)
def _converter():
    import country_converter as coco

    # country_converter 1.3 reads its own table with pandas' default NA parsing, which under pandas 3 turns
    # Namibia's ISO code "NA" into a missing value and breaks its constructor; read the table ourselves.
    table = pd.read_csv(os.path.join(os.path.dirname(coco.__file__), "country_data.tsv"), sep="\t", dtype="str",
                        keep_default_na=False, na_values=[""])
    table = table[table["obsolete"].isna()]
    logging.getLogger("country_converter").setLevel(logging.ERROR)
    return coco.CountryConverter(country_data=table)


@lru_cache(maxsize=1)
def aliases() -> dict[str, str]:
    with (files("anon_pipeline.reference") / "data" / "country_aliases.csv").open("rb") as fh:
        table = pd.read_csv(fh, dtype="str")
    return dict(zip(table["name"], table["continent"]))


def continents(names: pd.Series, extra_aliases: dict[str, str] | None = None) -> pd.Series:
    """Continent (7-continent scheme) of every name; names nobody resolves are missing."""
    known = {**aliases(), **(extra_aliases or {})}
    distinct = [n for n in names.dropna().unique().tolist() if n not in known]
    resolved: dict[str, str] = {}
    if distinct:
        out = _converter().convert(distinct, to="Continent_7", not_found=None)
        out = out if isinstance(out, list) else [out]
        resolved = {n: c for n, c in zip(distinct, out) if isinstance(c, str) and c in CROSS_CONTINENT}
    resolved.update(known)
    return names.map(resolved).astype("str").where(names.map(resolved).notna())
