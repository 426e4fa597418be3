"""The flights generator and the two bundled flights policies."""

from pathlib import Path

import numpy as np

import anon_pipeline.synthesis.ops  # noqa: F401  (registers the synthesis ops)
from anon_pipeline.policy import load_policy
from anon_pipeline.sample import generate

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
