"""A seeded generator of document A's insurance-customer table: the same 18 columns and value styles.

Names, phone numbers, postcodes and NI numbers come from Faker's ``en_GB`` locale (the style of the original
file); the numeric columns from numpy, in the original's ranges. Rows beyond a pool of Faker values reuse the
pool, so millions of rows take seconds, while identifiers that must be unique are drawn without replacement.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from faker import Faker
from faker.providers.address.en import Provider as EnglishAddress

from anon_pipeline.sample.registry import register_generator

COLUMNS = ["given_name", "surname", "gender", "birthdate", "country_of_birth", "current_country",
           "phone_number", "postcode", "national_insurance_number", "bank_account_number", "cc_status", "weight",
           "height", "blood_group", "avg_n_drinks_per_week", "avg_n_cigret_per_week", "education_level",
           "n_countries_visited"]

_BLOOD = {"O+": .35, "A+": .30, "B+": .08, "O-": .13, "A-": .08, "AB+": .02, "B-": .02, "AB-": .02}
_EDUCATION = {"primary": .061, "secondary": .458, "bachelor": .209, "masters": .112, "phD": .052, "other": .108}
_POOL = 4_000


def _pool(fake: Faker, method: str, n: int) -> np.ndarray:
    return np.array([getattr(fake, method)() for _ in range(min(n, _POOL))], dtype=object)


@register_generator("insurance_customers")
def insurance_customers(rows: int = 1000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    fake = Faker("en_GB")
    fake.seed_instance(seed)
    n = rows
    gender = rng.choice(np.array(["F", "M"]), size=n)
    female, male = _pool(fake, "first_name_female", n), _pool(fake, "first_name_male", n)
    given = np.where(gender == "F", rng.choice(female, n), rng.choice(male, n))
    start, end = date(1955, 1, 1).toordinal(), date(2003, 12, 31).toordinal()
    birth = pd.to_datetime(rng.integers(start, end + 1, n) - date(1970, 1, 1).toordinal(), unit="D")
    nino_digits = rng.choice(10**6, size=n, replace=n > 10**6)
    nino_style = rng.integers(0, 3, n)
    nino = [f"ZZ {d // 10000:02d} {d // 100 % 100:02d} {d % 100:02d} T" if s == 0 else
            (f"ZZ {d:06d} T" if s == 1 else f"ZZ{d:06d}T") for d, s in zip(nino_digits.tolist(), nino_style.tolist())]
    accounts = rng.choice(np.arange(10**7, 13 * 10**7), size=n, replace=False)
    return pd.DataFrame({
        "given_name": given,
        "surname": rng.choice(_pool(fake, "last_name", n), n),
        "gender": gender,
        "birthdate": birth.strftime("%Y-%m-%d"),
        "country_of_birth": rng.choice(np.array(sorted(set(EnglishAddress.countries))), n),
        "current_country": "United Kingdom",
        "phone_number": rng.choice(_pool(fake, "phone_number", n), n),
        "postcode": rng.choice(_pool(fake, "postcode", n), n),
        "national_insurance_number": nino,
        "bank_account_number": [f"{a:09d}" for a in accounts.tolist()],
        "cc_status": (rng.random(n) < 0.047).astype(int),
        "weight": np.round(rng.uniform(30, 100, n), 1),
        "height": np.round(rng.uniform(1.4, 2.0, n), 2),
        "blood_group": rng.choice(list(_BLOOD), n, p=list(_BLOOD.values())),
        "avg_n_drinks_per_week": np.round(rng.uniform(0, 10, n), 1),
        "avg_n_cigret_per_week": np.round(rng.uniform(0, 500, n), 1),
        "education_level": rng.choice(list(_EDUCATION), n, p=np.array(list(_EDUCATION.values())) / 1.0),
        "n_countries_visited": rng.integers(0, 51, n),
    }, columns=COLUMNS)
