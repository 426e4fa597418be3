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
