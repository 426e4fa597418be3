"""The pipeline's stages as plain functions (no Dagster): source -> raw -> qi_table -> anonymised -> release."""
