"""The integer-encoding engine against plain pandas group-bys and a dense brute-force EMD, on random tables that
take every code path (small and large spans, hashing fallback, categoricals, missing values)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anon_pipeline.metrics import class_sizes, encode_codes, k_anonymity, measure
from anon_pipeline.metrics import diversity as dv
from anon_pipeline.metrics.encoding import dense_rank, encode_column, joint_ids


def _random_table(rng: np.random.Generator, n: int, wide: bool) -> pd.DataFrame:
    df = pd.DataFrame({
        "small_int": rng.integers(0, 5, n),
        "big_int": rng.integers(-10**12, 10**12, n) if wide else rng.integers(0, 40, n),
        "text": pd.Series(rng.choice(["p", "q", "r", None], n), dtype="str"),
        "cat": pd.Categorical(rng.choice(["lo", "mid", "hi"], n), categories=["lo", "mid", "hi", "unused"]),
        "real": np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 7, n) / 2),
        "s": rng.choice(["A", "B", "C", "D"], n, p=[0.5, 0.3, 0.15, 0.05]),
        "num": rng.integers(0, 9, n),
    })
    df.loc[rng.random(n) < 0.05, "cat"] = None
    return df


def _same_partition(ids: np.ndarray, reference: np.ndarray) -> bool:
    pairs = len(set(zip(ids.tolist(), reference.tolist())))
    return pairs == len(np.unique(ids)) == len(np.unique(reference))


@pytest.mark.parametrize("wide", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_joint_ids_match_pandas_groupby(seed, wide):
    rng = np.random.default_rng(seed)
    df = _random_table(rng, 3000, wide)
    cols = ["small_int", "big_int", "text", "cat", "real"]
    ids = encode_codes(df, cols)
    reference = df.groupby(cols, dropna=False, observed=True).ngroup().to_numpy()
    assert _same_partition(ids, reference)
    sizes = class_sizes(df, cols)
    assert sorted(sizes.tolist()) == sorted(df.groupby(cols, dropna=False, observed=True).size().tolist())
    assert k_anonymity(df, cols).K == int(df.groupby(cols, dropna=False, observed=True).size().min())


@pytest.mark.parametrize("ordered", [True, False])
def test_joint_ids_when_the_span_outgrows_int64(ordered):
    # Twelve columns of 60 values: the mixed-radix product (60^12 ~ 2e21) must be re-densified on the way.
    rng = np.random.default_rng(3)
    df = pd.DataFrame({f"c{i}": rng.integers(0, 60, 2000) for i in range(12)})
    df.iloc[:200] = df.iloc[200:400].to_numpy()  # some rows repeated, so not every row is a class of its own
    ids, _ = joint_ids([encode_column(df[c]) for c in df.columns], len(df), ordered=ordered)
    assert _same_partition(ids, df.groupby(list(df.columns)).ngroup().to_numpy())


@pytest.mark.parametrize("ordered", [True, False])
def test_joint_ids_of_wide_columns_in_either_order_match_pandas_groupby(ordered):
    # Columns as wide as a raw table's (dates, postcodes, weights), a few repeated rows among many distinct ones:
    # unordered ids pack columns up to int64 and hash once; ordered ones re-densify on the way.
    rng = np.random.default_rng(5)
    n = 20_000
    df = pd.DataFrame({name: rng.integers(0, card, n) for name, card in
                       [("date", 18_000), ("postcode", 4_000), ("weight", 700), ("sex", 2), ("visits", 51)]})
    df.iloc[: n // 10] = df.iloc[n // 10: n // 5].to_numpy()  # a tenth of the rows repeat another's
    columns = [encode_column(df[c]) for c in df.columns]
    ids, classes = joint_ids(columns, n, ordered=ordered)
    widest_first = sorted(df.columns, key=lambda c: -df[c].nunique())  # the order joint_ids combines them in
    reference = df.groupby(widest_first).ngroup().to_numpy()
    assert _same_partition(ids, reference) and classes == len(np.unique(reference))
    if ordered:
        assert (ids == reference).all()  # the order of the combined values, as the group-by's


def test_encode_column_orders_and_missing():
    col = encode_column(pd.Series([3, 1, 3, 7], name="x"))
    assert col.codes.tolist() == [1, 0, 1, 2] and col.uniques.tolist() == [1, 3, 7]
    col = encode_column(pd.Series(["b", None, "a"], name="y", dtype="str"))
    assert col.cardinality == 3 and col.n_missing == 1 and col.uniques[col.codes[2]] == "a"
    col = encode_column(pd.Series(pd.Categorical(["hi", None], categories=["lo", "hi"]), name="z"))
    assert col.cardinality == 2 and col.n_missing == 1  # unused "lo" is dropped
    # Unused categories between used ones, missing values, and 200 categories (codes past a byte): the codes
    # and values are those of the same column as plain text.
    categories = [f"c{i:03d}" for i in range(200)]
    values = np.random.default_rng(0).choice([*categories[::3], None], 1000)
    col = encode_column(pd.Series(pd.Categorical(values, categories=categories), name="w"))
    plain = encode_column(pd.Series(values, name="w", dtype="str"))
    assert col.uniques[:-1].tolist() == plain.uniques[:-1].tolist() and col.cardinality == plain.cardinality == 68
    assert np.array_equal(col.codes.astype(np.int64), plain.codes.astype(np.int64)) and col.codes.dtype == np.int8
    col = encode_column(pd.Series(["m", "h", "l"], name="o"), order=["l", "m", "h"])
    assert col.codes.tolist() == [1, 2, 0]
    assert joint_ids([], 4)[1] == 1


def _dense_emd(df: pd.DataFrame, qis: list[str], sa: str, ordered: bool) -> float:
    """Textbook EMD with a dense class x value matrix (Li et al. 2007)."""
    table = pd.crosstab([df[c] for c in qis], df[sa], dropna=False).to_numpy(dtype=float)
    table = table[table.sum(axis=1) > 0]
    q = table / table.sum(axis=1, keepdims=True)
    p = table.sum(axis=0) / table.sum()
    if ordered:
        return float((np.abs(np.cumsum(q - p, axis=1)).sum(axis=1) / (len(p) - 1)).max())
    return float((0.5 * np.abs(q - p).sum(axis=1)).max())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_t_closeness_matches_dense_emd(seed):
    rng = np.random.default_rng(seed)
    df = _random_table(rng, 2000, False)
    qis = ["small_int", "text"]
    df["text"] = df["text"].fillna("none")
    m = measure(df, qis, ["s", "num"])
    assert m["per_attribute"]["s"]["t_closeness"] == pytest.approx(_dense_emd(df, qis, "s", False), rel=1e-12)
    assert m["per_attribute"]["num"]["t_closeness"] == pytest.approx(_dense_emd(df, qis, "num", True), rel=1e-12)


def test_diversity_per_class_against_groupby():
    rng = np.random.default_rng(5)
    df = _random_table(rng, 2000, False)
    qis = ["small_int", "cat"]
    ids = encode_codes(df, qis)
    s = encode_column(df["s"])
    ct = dv.contingency(ids, int(ids.max()) + 1, s.codes, s.cardinality)
    by_class = pd.DataFrame({"c": ids, "s": df["s"]}).groupby("c")["s"]
    assert dv.distinct_per_class(ct).tolist() == by_class.nunique().sort_index().tolist()
    entropy = by_class.apply(lambda v: -(v.value_counts(normalize=True) * np.log(v.value_counts(normalize=True)))
                             .sum()).sort_index().to_numpy()
    assert np.allclose(dv.entropy_per_class(ct), entropy, rtol=1e-12, atol=1e-15)
    top = by_class.apply(lambda v: v.value_counts().iloc[0]).sort_index().to_numpy()
    r1, tail = dv.recursive_c(ct, 2)
    assert r1.tolist() == top.tolist() and (tail == np.bincount(ids) - top).all()
    top_two = by_class.apply(lambda v: v.value_counts().iloc[:2].sum()).sort_index().to_numpy()
    assert (dv.recursive_c(ct, 3)[1] == np.bincount(ids) - top_two).all()
    rarest = by_class.apply(lambda v: v.value_counts().iloc[-1]).sort_index().to_numpy()
    assert dv.recursive_c(ct, 2, "ascending")[0].tolist() == rarest.tolist()


@pytest.mark.parametrize("span", [1000, 300_000, 1 << 40])  # presence mask, mask by key ranges, sort
def test_dense_rank_paths_agree_with_numpy_unique(span):
    key = np.random.default_rng(7).integers(0, span, 5000)
    ids, uniques = dense_rank(key, span)
    expected_uniques, expected_ids = np.unique(key, return_inverse=True)
    assert uniques.tolist() == expected_uniques.tolist() and ids.tolist() == expected_ids.tolist()


@pytest.mark.parametrize("distinct", [True, False])
def test_wide_keys_rank_as_np_unique_whether_mostly_distinct_or_repeated(distinct):
    from anon_pipeline.metrics.encoding import _rank

    rng = np.random.default_rng(5)
    n = 200_000
    key = rng.integers(0, 10**12, n if distinct else 500, dtype=np.int64)
    key = key if distinct else rng.choice(key, n)
    ids, uniques = _rank(key, 10**12, True)
    expected_uniques, expected_ids = np.unique(key, return_inverse=True)
    assert np.array_equal(uniques, expected_uniques) and np.array_equal(ids, expected_ids)
    assert ids.dtype == np.int32
    count_ids, count = _rank(key, 10**12, False, ordered=False)
    assert count == len(expected_uniques) and len(np.unique(count_ids)) == count


def test_measures_on_wide_quasi_identifiers_do_not_depend_on_the_order_of_class_ids():
    # Wide enough that unordered class ids come from a hash table (most rows in a few hundred classes, the rest
    # spread over thousands of dates and postcodes): every figure but the listed smallest classes must equal those
    # computed on ids in value order, and the group-by's.
    rng = np.random.default_rng(8)
    n = 20_000
    common = rng.random(n) < 0.9

    def skewed(few: int, many: int) -> np.ndarray:
        return np.where(common, rng.integers(0, few, n), rng.integers(0, many, n))

    df = pd.DataFrame({"date": skewed(40, 3_000), "postcode": skewed(8, 400),
                       "sex": pd.Series(rng.choice(["f", "m"], n), dtype="str"),
                       "drinks": rng.integers(0, 30, n), "smokes": pd.Series(rng.choice(["no", "yes"], n), dtype="str")})
    qis, sas = ["date", "postcode", "sex"], ["drinks", "smokes"]
    listed = measure(df, qis, sas, k=2, show_smallest=3)
    assert listed.pop("smallest_classes")
    unlisted = measure(df, qis, sas, k=2)
    assert unlisted == listed
    groups = df.groupby(qis)
    assert unlisted["k_anonymity"] == groups.size().min() and unlisted["n_classes"] == groups.ngroups
    assert unlisted["per_attribute"]["drinks"]["l_diversity"] == groups["drinks"].nunique().min()
    assert unlisted["sample_uniques"] == int((groups.size() == 1).sum())
