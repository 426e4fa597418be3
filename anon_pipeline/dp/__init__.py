"""Differential privacy: calibration formulas, OpenDP-backed noise, the per-dataset privacy-budget ledger and
the MST synthesiser (registered as the ``dp_mst_synthesis`` op by ``anon_pipeline.dp.ops``).

Nothing here imports dagster; OpenDP is imported only by the modules that draw noise.
"""
