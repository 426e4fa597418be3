"""A policy group with ``generalise``: the pipeline fits the search, the independent k check passes, replay works."""

from __future__ import annotations

import anon_pipeline as ap
import anon_pipeline.search.ops  # noqa: F401 -- registers ``generalise`` until the built-ins import it
from anon_pipeline.pipeline.anonymise import anonymise, replay
from anon_pipeline.pipeline.qi_table import build_qi_table
from anon_pipeline.pipeline.raw_schema import validate_raw
from anon_pipeline.pipeline.source import read_source, resolve_source
from anon_pipeline.policy import load_policy
from anon_pipeline_tests.pipeline.policies import variant

AGE_EDGES = [list(range(0, 101, 5)), list(range(0, 101, 10)), [0, 20, 40, 60, 80, 100]]


def policy_with_search(tmp_path, suppress="remove"):
    return variant(
        tmp_path,
        columns__birthdate__steps=[{"op": "age"}],
        groups=[{"name": "demographics", "columns": ["gender", "birthdate"],
                 "steps": [{"op": "generalise", "k": 10, "suppression_limit": 0.02, "quality": "loss",
                            "suppress": suppress,
                            "hierarchies": {"gender": {"mask": 1}, "birthdate": {"intervals": AGE_EDGES}}}]}],
    )


def test_policy_group_generalise_releases_and_records_the_search(tmp_path):
    result = ap.run_policy(policy_with_search(tmp_path), workdir=tmp_path / "work")
    assert result.released, result.checks
    assert result.anonymity["K"] >= 10
    plan = result.plan["groups"]["demographics"][0]["plan"]
    assert plan["strategy"] == "optimal" and set(plan["levels"]) == {"gender", "birthdate"}
    assert plan["nodes_checked"] >= 1 and plan["search_seconds"] >= 0
    assert len(result.anonymised) == 1000 - plan["suppressed_rows"]
    for neighbour in plan["lower_neighbours"]:
        assert neighbour["satisfies"] is False or neighbour["score"] >= plan["score"]


def test_policy_plan_replays_without_searching_again(tmp_path):
    policy = load_policy(policy_with_search(tmp_path))
    src = resolve_source(policy, None, tmp_path / "work")
    qi_table, _ = build_qi_table(validate_raw(read_source(src, policy), policy, src.path), policy)
    first = anonymise(qi_table, policy)
    again = replay(qi_table, policy, first.plan)
    assert again.table.equals(first.table)
