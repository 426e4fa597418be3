"""The linkage attack on a generalised table, counted by hand."""

import pandas as pd

from anon_pipeline.attacks import linkage


def test_linkage_counts_rows_matching_exactly_one_raw_record():
    # Raw records after the release's generalisation (age band, region):
    raw = pd.DataFrame({"age": ["20-29", "20-29", "30-39", "40-49", "40-49", "50-59", "*"],
                        "region": ["N", "N", "S", "N", "S", "S", "*"]})
    # Released rows: (20-29, N) matches 2 raw records; (30-39, S), (40-49, N), (40-49, S) one each;
    # (60-69, S) none; the suppressed row matches the one suppressed raw record.
    released = pd.DataFrame({"age": ["20-29", "30-39", "40-49", "40-49", "60-69", "*", "20-29"],
                             "region": ["N", "S", "N", "S", "S", "*", "N"]})
    out = linkage(released, raw, ["age", "region"])
    assert out["linked_rows"] == 4                                  # 30-39/S, 40-49/N, 40-49/S, */*
    assert out["linked_share"] == 4 / 7
    assert out["linked_records"] == 4
    assert out["unmatched_rows"] == 1 and out["ambiguous_rows"] == 2
    assert out["released_rows"] == 7 and out["original_rows"] == 7


def test_linkage_on_a_k_anonymous_release_links_nobody():
    raw = pd.DataFrame({"band": ["a", "a", "b", "b", "b"]})
    assert linkage(raw.sample(frac=1, random_state=0), raw, ["band"])["linked_rows"] == 0
