"""Generalisation hierarchies: loading ARX CSV files, building them from policy specs, integer encoding."""

from anon_pipeline.hierarchies.arx_csv import load_arx_csv

__all__ = ["load_arx_csv"]
