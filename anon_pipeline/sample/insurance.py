"""A seeded generator of the source notebook's insurance-customer table: the same 18 columns and value styles.

Names come from Faker's ``en_GB`` name tables, phone numbers and postcodes from a pool of Faker ``en_GB`` values
(the style of the original file), the numeric columns from numpy in the original's ranges. The table is made in
blocks of ``BLOCK_ROWS`` rows, each drawn from its own generator seeded by (seed, block number), so it streams
to a file in bounded memory. National insurance and bank account numbers must be unique at any size: each is a
keyed permutation of the row number into its number space, so they never repeat and nothing drawn is remembered.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from faker import Faker
from faker.providers.address.en import Provider as EnglishAddress
from faker.providers.person.en_GB import Provider as BritishPerson

from anon_pipeline.sample.registry import check_rows, register_generator

COLUMNS = ["given_name", "surname", "gender", "birthdate", "country_of_birth", "current_country",
           "phone_number", "postcode", "national_insurance_number", "bank_account_number", "cc_status", "weight",
           "height", "blood_group", "avg_n_drinks_per_week", "avg_n_cigret_per_week", "education_level",
           "n_countries_visited"]

_BLOOD = {"O+": .35, "A+": .30, "B+": .08, "O-": .13, "A-": .08, "AB+": .02, "B-": .02, "AB-": .02}
_EDUCATION = {"primary": .061, "secondary": .458, "bachelor": .209, "masters": .112, "phD": .052, "other": .108}
_POOL = 4_000
BLOCK_ROWS = 100_000

_LETTERS = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
# NI numbers stay ones never issued: "ZZ ... T" as in the original file, then prefixes whose first letter is one
# HMRC never uses (D, F, I, Q, U, V), each with any suffix letter: 1e6 numbers per (prefix, suffix) pair.
# The policy's pattern '^[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-Z]$' admits 26**3 * 1e6 (1.8e10) numbers; these are
# 4057 * 1e6 (4.06e9) of them.
_NI_PAIRS = [("ZZ", "T")] + [(a + b, s) for s in _LETTERS for a in "DFIQUV" for b in _LETTERS]
_NI_BLOCK = 10**6
_ACCOUNTS = (10**7, 10**9)   # 9-digit account numbers, leading zero allowed, as in the original
# The smaller of the two unique spaces bounds the table: 9.9e8 account numbers.
MAX_ROWS = min(len(_NI_PAIRS) * _NI_BLOCK, _ACCOUNTS[1] - _ACCOUNTS[0])


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a cheap, well-spread hash of 64-bit integers (the Feistel round function)."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def permute(index: np.ndarray, domain: int, seed: int, tag: int) -> np.ndarray:
    """Images of ``index`` under a keyed bijection of [0, domain): a balanced Feistel network over the smallest
    power of four that holds the domain, with cycle walking back into it. Distinct indices give distinct values."""
    half = max(1, ((domain - 1).bit_length() + 1) // 2)
    mask = np.uint64((1 << half) - 1)
    keys = np.random.default_rng([seed, tag]).integers(0, 2**63, size=4, dtype=np.uint64)

    def rounds(x: np.ndarray) -> np.ndarray:
        left, right = x >> np.uint64(half), x & mask
        for key in keys:
            left, right = right, left ^ (_mix(right ^ key) & mask)
        return (left << np.uint64(half)) | right

    x = rounds(np.asarray(index, dtype=np.uint64))
    outside = x >= domain
    while outside.any():
        x[outside] = rounds(x[outside])
        outside = x >= domain
    return x.astype(np.int64)


def _digits(values: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(pa.array(values), pa.string()), width=width, padding="0")


def national_insurance_numbers(index: np.ndarray, rows: int, seed: int, style: np.ndarray) -> pa.Array:
    """Distinct NI numbers for the row numbers ``index`` of a ``rows``-row table, in the three spellings of the
    original file (``style`` 0: "ZZ 12 34 56 T", 1: "ZZ 123456 T", 2: "ZZ123456T")."""
    check_rows("insurance_customers", rows, len(_NI_PAIRS) * _NI_BLOCK)
    pairs = max(1, -(-rows // _NI_BLOCK))
    number = permute(index, pairs * _NI_BLOCK, seed, tag=1)
    pair, d = number // _NI_BLOCK, number % _NI_BLOCK
    prefix = pa.array([p for p, _ in _NI_PAIRS[:pairs]]).take(pair)
    suffix = pa.array([s for _, s in _NI_PAIRS[:pairs]]).take(pair)
    six = _digits(d, 6)
    spaced = pc.binary_join_element_wise(prefix, _digits(d // 10_000, 2), _digits(d // 100 % 100, 2),
                                         _digits(d % 100, 2), suffix, " ")
    return pc.choose(pa.array(style), spaced, pc.binary_join_element_wise(prefix, six, suffix, " "),
                     pc.binary_join_element_wise(prefix, six, suffix, ""))


def _block(start: int, stop: int, rows: int, seed: int, pools: dict[str, pa.Array]) -> pa.Table:
    rng = np.random.default_rng([seed, start // BLOCK_ROWS])
    n = stop - start
    index = np.arange(start, stop)
    female = rng.random(n) < 0.5
    n_female = len(BritishPerson.first_names_female)   # pools["first"]: the female names, then the male ones
    names = np.where(female, rng.integers(0, n_female, n), rng.integers(n_female, len(pools["first"]), n))
    first, last = date(1955, 1, 1).toordinal(), date(2003, 12, 31).toordinal()
    birth = pa.array(rng.integers(first, last + 1, n) - date(1970, 1, 1).toordinal(), pa.int32()).cast(pa.date32())
    accounts = _ACCOUNTS[0] + permute(index, _ACCOUNTS[1] - _ACCOUNTS[0], seed, tag=2)
    education_p = np.array(list(_EDUCATION.values()))
    education = rng.choice(len(_EDUCATION), n, p=education_p / education_p.sum())
    return pa.table({
        "given_name": pools["first"].take(names),
        "surname": pools["last"].take(rng.choice(len(pools["last"]), n, p=pools["last_p"])),
        "gender": pc.if_else(pa.array(female), "F", "M"),
        "birthdate": pc.cast(birth, pa.string()),
        "country_of_birth": pools["country"].take(rng.integers(0, len(pools["country"]), n)),
        "current_country": pa.array(["United Kingdom"]).take(np.zeros(n, dtype=np.int64)),
        "phone_number": pools["phone"].take(rng.integers(0, len(pools["phone"]), n)),
        "postcode": pools["postcode"].take(rng.integers(0, len(pools["postcode"]), n)),
        "national_insurance_number": national_insurance_numbers(index, rows, seed, rng.integers(0, 3, n)),
        "bank_account_number": _digits(accounts, 9),
        "cc_status": (rng.random(n) < 0.047).astype(np.int64),
        "weight": np.round(rng.uniform(30, 100, n), 1),
        "height": np.round(rng.uniform(1.4, 2.0, n), 2),
        "blood_group": pa.array(list(_BLOOD)).take(rng.choice(len(_BLOOD), n, p=list(_BLOOD.values()))),
        "avg_n_drinks_per_week": np.round(rng.uniform(0, 10, n), 1),
        "avg_n_cigret_per_week": np.round(rng.uniform(0, 500, n), 1),
        "education_level": pa.array(list(_EDUCATION)).take(education),
        "n_countries_visited": rng.integers(0, 51, n),
    })


def _pools(rows: int, seed: int) -> dict[str, pa.Array]:
    """Values drawn per row from: the name tables whole, and a pool of Faker phone numbers and postcodes (their
    formats are Faker's rules, too costly to call per row)."""
    fake = Faker("en_GB")
    fake.seed_instance(seed)
    size = max(1, min(rows, _POOL))
    weights = np.array(list(BritishPerson.last_names.values()), dtype=float)
    return {
        "first": pa.array([*BritishPerson.first_names_female, *BritishPerson.first_names_male]),
        "last": pa.array(list(BritishPerson.last_names)), "last_p": weights / weights.sum(),
        "country": pa.array(sorted(set(EnglishAddress.countries))),
        "phone": pa.array([fake.phone_number() for _ in range(size)]),
        "postcode": pa.array([fake.postcode() for _ in range(size)]),
    }


def insurance_customer_batches(rows: int = 1000, seed: int = 0) -> Iterator[pa.Table]:
    """The table in blocks of at most ``BLOCK_ROWS`` rows; joined, they are ``insurance_customers(rows, seed)``.
    A size it cannot make is refused here, before the first block."""
    check_rows("insurance_customers", rows, MAX_ROWS)
    pools = _pools(rows, seed)
    # At least one block, so 0 rows still has the columns.
    return (_block(start, min(start + BLOCK_ROWS, rows), rows, seed, pools)
            for start in range(0, max(rows, 1), BLOCK_ROWS))


@register_generator("insurance_customers", batches=insurance_customer_batches)
def insurance_customers(rows: int = 1000, seed: int = 0) -> pd.DataFrame:
    return pa.concat_tables(insurance_customer_batches(rows, seed)).to_pandas()
