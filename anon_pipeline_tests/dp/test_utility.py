"""Utility against epsilon of a DP synthesis: the utility report's ``dp_utility`` (the release's marginal errors
and a curve of fresh draws), its PNG in the Dagster UI, and the measure itself."""

from __future__ import annotations

import base64
import io
import json
import re

import dagster as dg
import numpy as np
import pandas as pd
from PIL import Image

import anon_pipeline as ap
from anon_pipeline.defs.build import build_definitions
from anon_pipeline.dp.ops import DPMSTSynthesis
from anon_pipeline.dp.utility import EPSILONS, marginal_errors
from anon_pipeline.release import read_release_table
from anon_pipeline.reports.plots import dp_utility_plots, epsilon_curves_png
from anon_pipeline.transforms.registry import FitContext
from anon_pipeline_tests.dp.test_pipeline import STEP, dp_policy

STEP_NAME = "everything[0] dp_mst_synthesis"


def op() -> DPMSTSynthesis:
    return DPMSTSynthesis(DPMSTSynthesis.Params.model_validate({k: v for k, v in STEP.items() if k != "op"}))


def test_marginal_errors_are_total_variation_in_the_steps_domain():
    ctx = FitContext(column="g", seed=0)
    a = pd.DataFrame({"sex": ["F", "F", "M", "M"], "age": [20, 30, 40, 50], "smoker": ["yes", "no", "no", "no"]})
    assert marginal_errors(op(), a, a, ctx) == {"tv1_mean": 0.0, "tv1_max": 0.0, "tv2_mean": 0.0, "tv2_max": 0.0}
    # Ages within one bin of the declared domain ([18, 27) here) are the same cell.
    assert marginal_errors(op(), a, a.assign(age=[19, 30, 40, 50]), ctx)["tv1_max"] == 0.0
    b = a.assign(sex=["M", "M", "F", "F"])
    errors = marginal_errors(op(), a, b.assign(sex=["M"] * 4), ctx)
    # sex: (F .5, M .5) against (M 1): 0.5; age and smoker agree: the 1-way mean is 0.5 / 3.
    assert errors["tv1_max"] == 0.5 and errors["tv1_mean"] == round(0.5 / 3, 4)
    assert errors["tv2_max"] == 0.5   # sex x age: every input cell has 1/4, the draw's mass sits elsewhere by half


def test_the_utility_report_of_a_dp_run_has_its_curve_and_the_release_does_not(tmp_path):
    result = ap.run_policy(dp_policy(tmp_path), workdir=tmp_path / "w")
    report = json.loads((tmp_path / "w" / "dp_people" / "reports" / "utility_report.json").read_text())
    entry = report["dp_utility"][STEP_NAME]
    assert entry["epsilon"] == 1.0
    assert [p["epsilon"] for p in entry["curve"]] == list(EPSILONS)
    assert all(0 <= p[k] <= 1 for p in entry["curve"] for k in ("tv1_mean", "tv1_max", "tv2_mean", "tv2_max"))
    # More budget, less noise: at epsilon 10 the 2-way error is well below epsilon 0.3's (about 0.06 against
    # 0.16 on these 400 rows; a reversal would need noise far beyond its scale).
    curve = {p["epsilon"]: p for p in entry["curve"]}
    assert curve[10.0]["tv2_mean"] < curve[0.3]["tv2_mean"]
    # The release's own point is measured on the released table.
    source = pd.read_csv(tmp_path / "people.csv")
    released = read_release_table(result.release_dir)
    assert entry["released"] == marginal_errors(op(), source, released, FitContext(column="everything", seed=3))
    assert "dp_utility" not in json.loads((result.release_dir / "utility_report.json").read_text())


def test_the_curve_is_a_png_in_the_dagster_ui(tmp_path):
    policy = dp_policy(tmp_path)
    job = build_definitions([policy], workdir=str(tmp_path / "w")).resolve_job_def("dp_people_job")
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert result.success
    utility = next(e.event_specific_data.materialization for e in result.all_events
                   if e.event_type_value == "ASSET_MATERIALIZATION" and e.asset_key.path[-1] == "utility_report")
    text = utility.metadata["distributions"].value
    images = re.findall(r"!\[([^\]]+)\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", text)
    assert text.startswith(f"**{STEP_NAME}: utility against epsilon**")
    assert images[0][0] == "everything(0) dp_mst_synthesis: utility against epsilon"
    png = Image.open(io.BytesIO(base64.b64decode(images[0][1])))
    assert png.format == "PNG" and png.width > png.height   # two panels side by side
    assert [name for name, _ in images[1:]] == ["sex", "smoker"]   # then the listed distributions (not age's 60)


def test_curves_draw_series_and_levels():
    panels = {"AUC": {"mst": [(0.3, 0.7), (1.0, 0.8)], "this release": [(1.0, 0.79)]}, "TV": {"mst": [(1.0, 0.1)]}}
    one = Image.open(io.BytesIO(epsilon_curves_png(panels, {"AUC": {"real data": 0.89}})))
    assert one.format == "PNG" and one.width > 1.5 * one.height
    assert dp_utility_plots({"columns": {}}) == {}
    report = {"dp_utility": {"g[0] dp_mst_synthesis": {"epsilon": 1.0, "released": {"tv1_mean": 0.1, "tv2_mean": 0.2},
                                                       "curve": [{"epsilon": e, "tv1_mean": 0.1, "tv2_mean": 0.2}
                                                                 for e in EPSILONS]}}}
    assert list(dp_utility_plots(report)) == ["g[0] dp_mst_synthesis: utility against epsilon"]
    assert np.asarray(one).std() > 0   # not a blank canvas
