"""The flights generator and the two bundled flights policies."""

from pathlib import Path

import numpy as np
import pytest

import anon_pipeline.synthesis.ops  # noqa: F401  (registers the synthesis ops)
from anon_pipeline.policy import load_policy
from anon_pipeline.sample import generate
from anon_pipeline.stats.kde import silverman_factor

POLICIES = Path(__file__).resolve().parents[2] / "policies"


def test_flights_generator_is_seeded_and_shaped_like_the_paper():
    a, b = generate("flights", 2000, 5), generate("flights", 2000, 5)
    assert a.equals(b) and not a.equals(generate("flights", 2000, 6))
    assert list(a.columns) == ["passenger_id", "age", "departure", "arrival", "departure_airport", "airline",
                               "departure_attr", "arrival_attr"]
    assert a.passenger_id.is_unique
    assert (a.arrival > a.departure).all()
    assert np.abs(a.departure_attr - (a.departure - a.departure.dt.normalize()).dt.total_seconds() / 60).max() <= 1
    r = np.corrcoef(a.departure_attr, a.arrival_attr)[0, 1]
    assert 0.94 < r < 0.99


def test_flights_policies_load():
    synth = load_policy(POLICIES / "flights_synthesis.yaml")
    noise = load_policy(POLICIES / "flights_noise.yaml")
    assert synth.source.sample.generator == noise.source.sample.generator == "flights"
    assert synth.groups[0].steps[0].op == "kde_synthesis"
    assert noise.columns["departure_attr"].steps[0].op == "gaussian_noise"


def test_flights_synthesis_runs_through_the_pipeline(tmp_path):
    from anon_pipeline.pipeline.run import run_policy
    from anon_pipeline.policy.load import parse_policy
    import yaml

    path = POLICIES / "flights_synthesis.yaml"
    data = yaml.safe_load(path.read_text())
    data["source"]["sample"]["rows"] = 1500
    result = run_policy(parse_policy(data, path), workdir=tmp_path)
    raw = generate("flights", 1500, data["source"]["sample"]["seed"])
    out = result.anonymised
    assert len(out) == 1500 and "passenger_id" not in out.columns
    assert not out.departure_attr.isin(raw.departure_attr).any()
    bands = {"<1", "1-3", "3-7", "7-12", "12-17", "17-20", "100+"} | {f"{a}-{a + 5}" for a in range(20, 100, 5)}
    assert set(out.age) <= bands
    assert set(zip(out.departure_airport, out.airline)) <= set(zip(raw.departure_airport, raw.airline))
    r_raw = np.corrcoef(raw.departure_attr, raw.arrival_attr)[0, 1]
    # Per-axis kernels attenuate r by 1 / (1 + f^2), f the Silverman factor (0.30 at N = 1500, m = 2).
    f = silverman_factor(1500, 2)
    assert np.corrcoef(out.departure_attr, out.arrival_attr)[0, 1] == pytest.approx(r_raw / (1 + f * f), abs=0.02)
