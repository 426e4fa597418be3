"""Generalisation hierarchies: loading ARX CSV files, building them from policy specs, integer encoding."""

from anon_pipeline.hierarchies.arx_csv import load_arx_csv
from anon_pipeline.hierarchies.builders import build_hierarchy, dates, groupings, intervals, masking
from anon_pipeline.hierarchies.encoded import EncodedHierarchy
from anon_pipeline.hierarchies.registry import register_hierarchy_kind

__all__ = ["EncodedHierarchy", "build_hierarchy", "dates", "groupings", "intervals", "load_arx_csv", "masking",
           "register_hierarchy_kind"]
