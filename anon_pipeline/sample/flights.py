"""The worked example of Borisov, Bosov and Ivanov (2023): a seeded flights table (one row per passenger).

Columns: passenger_id (direct identifier), age (years, a discretised Gaussian), departure and arrival
date-times on one operating day (departures on a 5-minute timetable grid with morning and evening waves,
arrival = departure + a log-normal flight duration), departure_airport, airline, and the two continuous
"departure/arrival attributes": the date-times as reals (minutes since the day's midnight) plus U[-1, 1].
The attributes are drawn independently per passenger except arrival, which follows departure, as in the
paper (its discrete correlations are all near zero and its continuous pair is near 0.97).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from anon_pipeline.sample.registry import register_generator

DAY = pd.Timestamp("2023-06-01")
AIRPORTS = {"SVO": 0.28, "DME": 0.22, "VKO": 0.16, "LED": 0.14, "AER": 0.08, "KZN": 0.06, "OVB": 0.04,
            "KGD": 0.02}
AIRLINES = {"Aeroflot": 0.34, "S7": 0.2, "Pobeda": 0.16, "Ural": 0.1, "UTair": 0.07, "Rossiya": 0.06,
            "Nordwind": 0.03, "Azimuth": 0.02, "RedWings": 0.015, "Yakutia": 0.005}
# Timetable waves: (share, mean hour, sd hours); departures between 05:00 and 23:55.
WAVES = ((0.45, 8.0, 1.5), (0.20, 13.0, 2.0), (0.35, 18.5, 1.8))


def _departure_minutes(rows: int, rng: np.random.Generator) -> np.ndarray:
    share = np.array([w[0] for w in WAVES])
    wave = rng.choice(len(WAVES), size=rows, p=share / share.sum())
    hours = rng.normal(np.array([w[1] for w in WAVES])[wave], np.array([w[2] for w in WAVES])[wave])
    minutes = np.clip(hours * 60.0, 5 * 60, 23 * 60 + 55)
    return (np.round(minutes / 5.0) * 5.0).astype(np.int64)


@register_generator("flights")
def flights(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = np.clip(np.round(rng.normal(40.0, 16.0, rows)), 0, 95).astype(np.int64)
    dep_min = _departure_minutes(rows, rng)
    # Log-normal durations (median ~1 h 50 min, long tail of long-haul flights), on the 5-minute grid.
    duration = np.maximum(30, np.round(rng.lognormal(np.log(110.0), 0.55, rows) / 5.0) * 5.0).astype(np.int64)
    arr_min = dep_min + duration
    airports = rng.choice(list(AIRPORTS), size=rows, p=np.array(list(AIRPORTS.values())) / sum(AIRPORTS.values()))
    airlines = rng.choice(list(AIRLINES), size=rows, p=np.array(list(AIRLINES.values())) / sum(AIRLINES.values()))
    ids = rng.permutation(rows) + 1
    return pd.DataFrame({
        "passenger_id": pd.Series([f"P{i:08d}" for i in ids], dtype="str"),
        "age": age,
        "departure": DAY + pd.to_timedelta(dep_min, unit="min"),
        "arrival": DAY + pd.to_timedelta(arr_min, unit="min"),
        "departure_airport": pd.Series(airports, dtype="str"),
        "airline": pd.Series(airlines, dtype="str"),
        "departure_attr": dep_min + rng.uniform(-1.0, 1.0, rows),
        "arrival_attr": arr_min + rng.uniform(-1.0, 1.0, rows),
    })
