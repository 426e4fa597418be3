"""The policy's privacy: section becomes checks: blocking ones stop the release, the others only report."""

import pytest

import anon_pipeline as ap
from anon_pipeline.errors import PolicyError
from anon_pipeline.policy import load_policy
from anon_pipeline_tests.pipeline.policies import variant


def test_blocking_l_diversity_target_that_fails_stops_the_release(tmp_path):
    # drinks_per_week has 3 bands, so distinct l can never reach 4.
    policy = variant(tmp_path, privacy__l=[{"variant": "distinct", "l": 4, "attribute": "avg_n_drinks_per_week",
                                            "blocking": True}])
    result = ap.run_policy(policy, workdir=tmp_path / "w")
    assert result.checks["l_diversity_drinks_per_week"] is False
    assert not result.released
    target = result.anonymity["targets"]["l_diversity_drinks_per_week"]
    assert target["target"] == 4 and target["measured"] <= 3


def test_non_blocking_target_reports_but_releases(tmp_path):
    policy = variant(tmp_path, privacy__t={"t": 0.0001, "attribute": "avg_n_cigret_per_week"})
    result = ap.run_policy(policy, workdir=tmp_path / "w")
    assert result.checks["t_closeness_cigarettes_per_week"] is False
    assert result.released


def test_bad_target_fails_at_load_naming_the_field(tmp_path):
    policy = variant(tmp_path, privacy__l=[{"variant": "fancy", "l": 2}])
    with pytest.raises(PolicyError, match="field 'privacy.l"):
        load_policy(policy)


def test_report_says_which_node_the_search_chose_and_shows_no_codes(tmp_path):
    from anon_pipeline.reports.anonymity import anonymity_markdown
    from anon_pipeline_tests.search.test_policy_generalise import policy_with_search

    policy_file = policy_with_search(tmp_path)
    result = ap.run_policy(policy_file, workdir=tmp_path / "w")
    steps = result.anonymity["report"]["steps"]
    search = steps["demographics[0] generalise"]
    assert set(search["levels"]) == {"gender", "birthdate"} and "lower_neighbours" in search
    text = anonymity_markdown(result.anonymity["report"])
    assert "Search demographics[0] generalise: chose levels" in text
    # The group names its columns as the policy does; the report also says what the release calls them.
    released = load_policy(policy_file).output_name("birthdate")
    assert released != "birthdate" and f"birthdate (released as {released}) {search['levels']['birthdate']}" in text
    assert f"gender {search['levels']['gender']}," in text
    assert not any("codes" in summary for summary in steps.values())
