"""For every registered privacy model the lattice search can decide: its verdict on a node equals the whole-table
measure (the release check) on the table generalised to that node, on random small tables, with rows given one
by one or as distinct rows with counts; and its optimum equals the best node by the measure, so the
monotonicity each model claims never prunes the optimum away."""

from __future__ import annotations

import itertools
import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anon_pipeline.criteria import evaluate_targets, registered_privacy_models
from anon_pipeline.search import apply_levels, optimal
from anon_pipeline.search.criteria import Criteria
from anon_pipeline.search.grouping import Grouper
from anon_pipeline.search.optimal import evaluate_levels
from anon_pipeline.search.problem import encode_problem

# The top level is "ALL", not "*": a release check reads rows whose quasi-identifiers are all "*" as suppressed.
HIER = {"a": pd.DataFrame({0: [str(i) for i in range(8)], 1: [f"{i // 2}x" for i in range(8)],
                           2: [f"{i // 4}y" for i in range(8)], 3: ["ALL"] * 8}),
        "b": pd.DataFrame({0: [str(i) for i in range(6)], 1: [f"{i // 3}z" for i in range(6)], 2: ["ALL"] * 6})}
NODES = list(itertools.product(range(4), range(3)))
#: for the hierarchical t-closeness distance over the sensitive values 0..4
S_HIERARCHY = {"groups": [{"0": "low", "1": "low", "2": "high", "3": "high", "4": "high"}]}
_bound = st.floats(0.05, 3.0, allow_nan=False).map(lambda x: round(x, 2))

#: A ``privacy:`` section drawing a random target of each searchable model.
SPECS = {
    "k_anonymity": st.builds(lambda k: {"k": k}, st.integers(1, 6)),
    "l_diversity": st.one_of(
        st.builds(lambda l: {"l": {"l": l}}, st.integers(1, 4)),
        st.builds(lambda l: {"l": {"l": l, "variant": "entropy"}}, st.floats(1.0, 3.5).map(lambda x: round(x, 2))),
        st.builds(lambda l, c: {"l": {"l": l, "c": c, "variant": "recursive"}}, st.integers(1, 3),
                  st.floats(0.5, 4.0).map(lambda x: round(x, 2)))),
    "t_closeness": st.builds(lambda t, d: {"t": {"t": t, "distance": d, **({"hierarchy": S_HIERARCHY}
                                                                           if d == "hierarchical" else {})}},
                             st.floats(0, 1).map(lambda x: round(x, 2)),
                             st.sampled_from(["equal", "ordered", "hierarchical"])),
    "delta_disclosure": st.builds(lambda d: {"delta": {"delta": d}}, _bound),
    "basic_beta_likeness": st.builds(lambda b: {"beta": {"beta": b}}, _bound),
}


def _searchable() -> list[str]:
    return [name for name, cls in registered_privacy_models().items() if cls.searchable]


def test_every_searchable_model_is_covered():
    """A new searchable built-in model must add a spec strategy here."""
    assert set(_searchable()) <= set(SPECS), set(_searchable()) - set(SPECS)


@st.composite
def tables(draw):
    n = draw(st.integers(1, 40))
    ints = st.lists(st.integers(0, 7), min_size=n, max_size=n)
    df = pd.DataFrame({"a": [str(x) for x in draw(ints)], "b": [str(x % 6) for x in draw(ints)],
                       "s": [x % 5 for x in draw(ints)]})
    return df


def _section(draw, names):
    section: dict = {}
    for name in names:
        section.update(draw(SPECS[name]))
    return section


def _measure_passes(df, section, levels) -> bool:
    out = apply_levels(df, HIER, dict(zip(HIER, levels)))
    return all(r.passed for r in evaluate_targets(section, out, list(HIER), ["s"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=tables(), data=st.data(), node=st.sampled_from(NODES), counts=st.booleans())
def test_search_verdict_equals_the_measure(df, data, node, counts):
    names = data.draw(st.lists(st.sampled_from(sorted(SPECS)), min_size=1, max_size=2, unique=True))
    section = _section(data.draw, names)
    table, weights = df, None
    if counts:  # distinct rows with how many rows each stands for, as the streaming engine fits
        grouped = df.groupby(list(df.columns), sort=False).size().reset_index(name="n")
        table, weights = grouped[list(df.columns)], grouped["n"].to_numpy()
    problem = encode_problem(table, HIER, Criteria(privacy=section), "s", 0.0, weights)
    grouper = Grouper(problem.hierarchies, problem.codes, problem.sensitive, problem.n_sensitive, weights=weights)
    grouper.group((0, 0))  # so the node may be rolled up from a cached finer one
    fail = problem.criteria.failing(grouper.group(node).table)
    assert (not fail.any()) == _measure_passes(df, section, node), (section, node)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=tables(), data=st.data(), name=st.sampled_from(sorted(SPECS)))
def test_search_optimum_equals_the_best_node_by_the_measure(df, data, name):
    section = _section(data.draw, [name])
    problem = encode_problem(df, HIER, Criteria(privacy=section), "s", 0.0)
    good = [evaluate_levels(problem, list(node), "loss")[0] for node in NODES if _measure_passes(df, section, node)]
    if not good:
        with pytest.raises(ValueError):
            optimal(df, HIER, privacy=section, sensitive="s")
        return
    result = optimal(df, HIER, privacy=section, sensitive="s")
    assert math.isclose(result.score, min(good), rel_tol=1e-9, abs_tol=1e-12)
