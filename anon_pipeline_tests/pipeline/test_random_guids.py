import uuid

import pandas as pd

from anon_pipeline.pipeline.qi_table import GUID_PATTERN, random_guids


def test_version_4_uuids_unique_on_100k_rows():
    guids = pd.Series(random_guids(100_000))
    assert guids.dtype == "str" and len(guids) == 100_000
    assert guids.str.fullmatch(GUID_PATTERN).all()
    assert guids.is_unique
    # The standard library reads them back as RFC 4122 version-4 UUIDs with the same text.
    for text in guids.sample(200, random_state=0):
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == text


def test_every_hex_digit_appears_in_every_random_position():
    texts = list(random_guids(2_000))
    at = [{text[i] for text in texts} for i in range(36)]
    fixed = {8: {"-"}, 13: {"-"}, 18: {"-"}, 23: {"-"}, 14: {"4"}}
    assert at[19] == set("89ab")
    assert all(at[i] == fixed.get(i, set("0123456789abcdef")) for i in range(36) if i != 19)


def test_empty_and_fresh_each_call():
    assert len(random_guids(0)) == 0
    assert set(random_guids(1000)).isdisjoint(random_guids(1000))


def test_guid_schema_counts_repeated_and_malformed_guids():
    import pandera.pandas as pa

    from anon_pipeline.pipeline.qi_table import guid_column, validate_table

    guids = pd.Series(random_guids(6), dtype="str")
    guids[[1, 2]] = guids[0]          # one GUID held by three rows
    guids[5] = "not-a-guid"
    problems = validate_table(pd.DataFrame({"guid": guids}), pa.DataFrameSchema({"guid": guid_column()}))
    assert {p["rule"]: p["n_rows"] for p in problems} == {f"str_matches('{GUID_PATTERN}')": 1, "unique": 3}


def test_guid_form_on_bytes_agrees_with_the_regex():
    from anon_pipeline.pipeline.guids import is_guid

    good = list(random_guids(50))
    bad = [good[0].upper(), good[1][:-1] + "g", good[2].replace("-", "_", 1), good[3][:14] + "3" + good[3][15:],
           good[4][:19] + "c" + good[4][20:], good[5] + "0", good[6][:-1]]
    for values in (pd.Series(good + bad, dtype="str"),            # mixed lengths: the string path
                   pd.Series(good + bad[:5], dtype="str"),        # all 36 characters: the byte path
                   pd.Series(good + bad[:5], dtype="str").iloc[3:]):  # a slice: the offsets do not start at 0
        expected = values.str.fullmatch(GUID_PATTERN).to_numpy(dtype=bool)
        assert (is_guid(values).to_numpy() == expected).all()
        assert list(is_guid(values).index) == list(values.index)
    assert not is_guid(pd.Series([good[0], None], dtype="str")).iloc[1]


def test_guid_order_is_the_order_of_the_strings():
    from anon_pipeline.pipeline.guids import guid_order

    chunks = [pd.Series(random_guids(500), dtype="str") for _ in range(3)]
    values = pd.concat(chunks, ignore_index=True)
    assert list(values.iloc[guid_order(values)]) == sorted(values)
    odd = pd.Series(["b", "a", "c"], dtype="str")  # not GUIDs: still sorted, by the strings
    assert list(odd.iloc[guid_order(odd)]) == ["a", "b", "c"]


def test_guid_prefixes_prove_distinct_guids_across_batches():
    from anon_pipeline.pipeline.guids import GuidPrefixes

    batches = [pd.Series(random_guids(300), dtype="str") for _ in range(3)]
    seen = GuidPrefixes()
    for batch in batches:
        seen.add(batch)
    assert seen.distinct()
    # One GUID of the first batch again in the last one: no proof, the caller compares the GUIDs themselves.
    again = GuidPrefixes()
    for batch in [*batches[:2], pd.concat([batches[2], batches[0].iloc[[5]]], ignore_index=True)]:
        again.add(batch)
    assert not again.distinct()
    # Two GUIDs that differ only after their first 16 hex digits share a prefix: also no proof.
    first = batches[0].iloc[0]
    twin = first[:-1] + ("0" if first[-1] != "0" else "1")
    near = GuidPrefixes()
    near.add(pd.Series([first], dtype="str"))
    near.add(pd.Series([twin], dtype="str"))
    assert not near.distinct()
    broken = GuidPrefixes()
    broken.add(pd.Series(["not-a-guid"], dtype="str"))
    assert not broken.distinct()


def test_guid_schema_counts_repeats_among_well_formed_guids():
    import pandera.pandas as pa

    from anon_pipeline.pipeline.qi_table import guid_column, validate_table

    guids = pd.Series(random_guids(8), dtype="str")
    schema = pa.DataFrameSchema({"guid": guid_column()})
    assert validate_table(pd.DataFrame({"guid": guids}), schema) == []
    guids[[3, 6]] = guids[1]
    twin = guids[0][:-1] + ("0" if guids[0][-1] != "0" else "1")  # same first 64 bits, another GUID
    guids[7] = twin
    problems = validate_table(pd.DataFrame({"guid": guids}), schema)
    assert {p["rule"]: p["n_rows"] for p in problems} == {"unique": 3}


def test_guid_form_and_order_on_bytes_agree_with_the_regex_for_every_byte_at_every_position():
    import re

    import numpy as np

    from anon_pipeline.pipeline.guids import guid_order, is_guid

    base = next(iter(random_guids(1))).encode()
    # Every one of the 256 byte values at every one of the 36 places of one GUID (latin-1: one byte a character).
    rows = [base[:at] + bytes([b]) + base[at + 1:] for at in range(36) for b in range(256)]
    values = pd.Series([r.decode("latin-1") for r in rows], dtype="str")
    expected = np.array([re.fullmatch(GUID_PATTERN[1:-1], v) is not None for v in values])
    assert (is_guid(values).to_numpy() == expected).all()
    assert expected.sum() == 36 + 30 * 15 + 3  # the GUID (once per place), another digit at a free place, 89ab at 19
    good = values[expected].drop_duplicates()
    # Ordered by the first 64 bits (16 hex digits, the first 18 characters), ties kept in their order.
    assert list(good.iloc[guid_order(good)]) == sorted(good, key=lambda v: v[:18])
