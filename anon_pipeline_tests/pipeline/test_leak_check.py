"""The no_identifier_leak check on small hand-made tables, against counts worked out by hand."""

import pandas as pd

from anon_pipeline.pipeline.checks import check_no_identifier_leak, identifier_index, leak_outcome
from anon_pipeline.pipeline.leak import candidate_values, matching_cells
from anon_pipeline.policy import parse_policy
from anon_pipeline.policy.model import Role

POLICY = parse_policy({
    "name": "t", "seed": 1,
    "columns": {"name": {"role": "identifier"}, "ni": {"role": "identifier"},
                "country": {"role": "quasi_identifier"}, "note": {"role": "insensitive"}},
})
NAMES = ["Jordan", "Ada", "Grace", "Alan", "Edsger", "Barbara"]
NIS = ["AB123456C", "CD234567D", "EF345678A", "GH456789B", "JK567890C", "LM678901D"]
COUNTRIES = ["Jordan", "Jordan", "Jordan", "France", "Peru", "France"]
RAW = pd.DataFrame({"name": NAMES, "ni": NIS, "country": COUNTRIES, "note": ["x", "y", "z", "x", "y", "z"]})


def released(**columns):
    base = {"guid": list("abcdef"), "country": COUNTRIES, "note": ["x", "y", "z", "x", "y", "z"]}
    return pd.DataFrame({**base, **columns})


def check(raw, anonymised, policy=POLICY):
    outcome = check_no_identifier_leak(raw, anonymised, policy)
    assert not any(v in outcome.description for v in NAMES[1:] + NIS), "a value reached the message"
    return outcome


def test_identifier_copied_into_another_column_is_a_leak():
    outcome = check(RAW, released(note=["x", "Ada", "z", "x", "y", "z"]))
    assert not outcome.passed
    assert outcome.metadata["leaked_cells"] == 1 and outcome.metadata["columns"] == ["note"]


def test_common_value_that_is_the_columns_own_data_is_excused_and_counted():
    # "Jordan" is a given name and the country of three rows: three cells, excused, and reported as such.
    outcome = check(RAW, released())
    assert outcome.passed
    assert outcome.metadata["excused_cells"] == 3 and outcome.metadata["excused_values"] == 1


def test_identifiers_in_a_kept_column_leak_even_when_they_are_its_own_data():
    # The attack: national insurance numbers typed into a free-text column the policy keeps. They are that
    # column's own input, but each is held by one cell, so each points at a person.
    raw = RAW.assign(note=["ref AB123456C", "CD 23 45 67 D", "z", "x", "y", "z"])
    outcome = check(raw, released(note=raw["note"].tolist()))
    assert not outcome.passed
    assert outcome.metadata["leaked_cells"] == 2 and outcome.metadata["columns"] == ["note"]


def test_identifier_found_as_a_token_of_free_text_and_regardless_of_case():
    outcome = check(RAW, released(note=["x", "called grace (mobile)", "z", "x", "y", "z"]))
    assert not outcome.passed and outcome.metadata["leaked_cells"] == 1


def test_a_rare_own_value_is_not_excused():
    # Peru is one row's country; a person named "Peru" makes it a value held by one released cell.
    raw = RAW.assign(name=["Peru", *NAMES[1:]])
    outcome = check(raw, released())
    assert not outcome.passed and outcome.metadata["leaked_cells"] == 1


def test_the_shared_value_still_counts_in_a_column_it_does_not_belong_to():
    outcome = check(RAW, released(note=["Jordan", "y", "z", "x", "y", "z"]))
    assert not outcome.passed and outcome.metadata["columns"] == ["note"]


def test_numeric_and_missing_cells_are_compared_as_text():
    raw = RAW.assign(ni=["12345678", *NIS[1:]])
    anonymised = released().assign(amount=pd.array([12345678, None, 3, 4, 5, 6], dtype="Int64"))
    outcome = check(raw, anonymised)
    assert not outcome.passed and outcome.metadata["columns"] == ["amount"]


def _batched(raw, anonymised, size, policy=POLICY):
    """The check's outcome with the index built, and the release searched, ``size`` rows at a time."""
    index = identifier_index(policy, raw.columns)
    for start in range(0, len(raw), size):
        index.add(raw.iloc[start:start + size])
    for start in range(0, len(anonymised), size):
        report = index.leaks(anonymised.iloc[start:start + size])
    return leak_outcome(index, report)


def test_batches_of_any_size_give_the_whole_tables_outcome():
    # Excused "Jordan" (three cells spread over batches), a rare own value, and a token leak in a free-text cell.
    raw = RAW.assign(name=["Jordan", "Peru", *NAMES[2:]])
    anonymised = released(note=["x", "called grace (mobile)", "z", "x", "ref AB123456C", "z"])
    whole = check(raw, anonymised)
    assert whole.metadata["leaked_cells"] == 3 and whole.metadata["excused_cells"] == 3
    for size in (1, 2, 4, 7):
        batched = _batched(raw, anonymised, size)
        assert (batched.passed, batched.description, batched.metadata) == \
            (whole.passed, whole.description, whole.metadata)


def test_a_value_is_excused_by_its_cells_across_batches():
    # With k = 3, "Jordan" must be held by three released cells: one per batch is not a leak once all are seen.
    policy = parse_policy({**POLICY.model_dump(include={"name", "seed"}), "columns": {
        c: spec.model_dump(exclude_defaults=True) for c, spec in POLICY.columns.items()},
        "privacy": {"k": 3, "quasi_identifiers": ["country"]}})
    index = identifier_index(policy, RAW.columns)
    index.add(RAW)
    first = index.leaks(released().iloc[:1])
    assert first.leaked_cells == 1  # one cell so far: not shared
    final = index.leaks(released().iloc[1:])
    assert final.leaked_cells == 0 and final.excused_cells == 3 and final.excused_values == 1


def _view(raw, anonymised, size, policy=POLICY, distinct_kept=False):
    """The input cells the streaming engine keeps for the check (``leak_view``): each input column, ``size`` rows
    at a time, reduced to the cells that match a released cell or token. ``distinct_kept``: a kept column's
    distinct values stand for its rows (what ``leak_view`` reads of them: the qi table's value counts)."""
    candidates = candidate_values(anonymised[c] for c in anonymised.columns if c != "guid")

    def rows(c):
        kept = policy.columns[c].role is not Role.identifier
        return raw[c].drop_duplicates().dropna().reset_index(drop=True) if kept and distinct_kept else raw[c]

    parts = {c: [matching_cells(rows(c).iloc[start:start + size], candidates,
                                tokens=policy.columns[c].role is not Role.identifier)
                 for start in range(0, len(rows(c)), size)] for c in raw.columns}
    return pd.concat({c: pd.concat(p, ignore_index=True) for c, p in parts.items()}, axis=1)


def test_the_cells_that_match_a_released_cell_give_the_whole_inputs_outcome():
    cases = [
        (RAW, released(note=["x", "Ada", "z", "x", "y", "z"])),
        (RAW, released()),
        (RAW.assign(note=["ref AB123456C", "CD 23 45 67 D", "z", "x", "y", "z"]),
         released(note=["ref AB123456C", "CD 23 45 67 D", "z", "x", "y", "z"])),
        (RAW, released(note=["x", "called grace (mobile)", "z", "x", "y", "z"])),
        # "Jordan" released in two cells, a token of the note's own input: excused only if the view keeps the
        # input cells that hold it.
        (RAW.assign(note=["born in Jordan", "Jordan fan", "z", "x", "y", "z"]),
         released(note=["Jordan", "Jordan", "z", "x", "y", "z"])),
        (RAW.assign(name=["Peru", *NAMES[1:]]), released()),
        (RAW.assign(ni=["12345678", *NIS[1:]]),
         released().assign(amount=pd.array([12345678, None, 3, 4, 5, 6], dtype="Int64"))),
    ]
    for raw, anonymised in cases:
        whole = check(raw, anonymised)
        for size in (1, 4, 7):
            for distinct_kept in (False, True):
                view = _view(raw, anonymised, size, distinct_kept=distinct_kept)
                assert view.notna().sum().sum() < raw.size  # only the cells that can matter
                outcome = check(view, anonymised)
                assert (outcome.passed, outcome.metadata) == (whole.passed, whole.metadata)
