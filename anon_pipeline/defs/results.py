"""Turning the core's ``CheckOutcome`` into Dagster check results and metadata."""

from __future__ import annotations

from typing import Any

import dagster as dg

from anon_pipeline.errors import problem_text
from anon_pipeline.pipeline.checks import CheckOutcome, k_quasi_identifier_outputs
from anon_pipeline.policy.model import Policy

#: Keys the core keeps for ``RunResult`` and the manifest that repeat another key of the same check: the UI
#: would draw the same figure twice.
_REPEATS = {"K": "measured", "k_target": "target"}


def to_metadata(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = dg.MetadataValue.bool(value)
        elif isinstance(value, (int, float)):
            out[key] = value  # numbers stay numbers so the UI plots them over runs
        elif isinstance(value, (dict, list)):
            out[key] = dg.MetadataValue.json(value)
        else:
            out[key] = str(value)
    return out


def check_description(outcome: CheckOutcome) -> str:
    """The outcome's text and, for a failure, each broken rule with its hint in words, so the run and check
    pages show them without opening the metadata."""
    problems = outcome.metadata.get("problems") or []
    if outcome.passed or not problems:
        return outcome.description
    return "\n".join([outcome.description + ":", *(f"- {problem_text(p)}" for p in problems)])


def check_result(outcome: CheckOutcome, context: Any = None, **keys: Any) -> dg.AssetCheckResult:
    """``keys``: ``asset_key`` and ``check_name`` where one function yields several checks. With a ``context``,
    a failed blocking check is logged as an error too, so the run's first error names the check and its rules."""
    severity = dg.AssetCheckSeverity.ERROR if outcome.blocking else dg.AssetCheckSeverity.WARN
    description = check_description(outcome)
    if context is not None and not outcome.passed:
        log = context.log.error if outcome.blocking else context.log.warning
        log(f"check {outcome.name} failed: {description}")
    metadata = {k: v for k, v in outcome.metadata.items() if not (k in _REPEATS and _REPEATS[k] in outcome.metadata)}
    return dg.AssetCheckResult(passed=outcome.passed, severity=severity, description=description,
                               metadata=to_metadata(metadata), **keys)


#: What each per-attribute privacy target requires of ``{attr}`` within every group of rows sharing ``{qis}``.
_PER_ATTRIBUTE = {
    "recursive_c_l_diversity_": "recursive (c, l)-diversity of {attr}: in every group of rows sharing {qis}, the "
                                "most frequent value is rarer than c times the l-th and later ones together",
    "entropy_l_diversity_": "entropy l-diversity of {attr}: in every group of rows sharing {qis}, exp(entropy of "
                            "{attr}) is at least l",
    "l_diversity_": "distinct l-diversity of {attr}: every group of rows sharing {qis} holds at least l values",
    "t_closeness_": "t-closeness of {attr}: in every group of rows sharing {qis}, its distribution is within t of "
                    "the whole table's (earth mover's distance)",
    "delta_disclosure_": "delta-disclosure privacy of {attr} over groups of rows sharing {qis}",
    "basic_beta_likeness_": "basic beta-likeness of {attr} over groups of rows sharing {qis}",
}
_RISKS = {
    "prosecutor_risk_max": "highest re-identification risk of one row (1 / its group size) over {qis}",
    "prosecutor_risk_avg": "average re-identification risk of a row over {qis}",
    "marketer_risk": "share of rows an attacker matching every row would re-identify over {qis}",
    "sample_unique_share": "share of rows unique on {qis}",
    "records_at_risk_share": "share of rows whose re-identification risk over {qis} exceeds the threshold",
}


def privacy_check_description(check_name: str, policy: Policy) -> str:
    """What a privacy check requires, in the release's column names (known before any data is read)."""
    qis = ", ".join(k_quasi_identifier_outputs(policy))
    k = policy.privacy.k
    if check_name == "k_anonymity":
        if k is None:
            return f"K over {qis} (no k target set: checked against 1)"
        return (f"K >= k = {k} over {qis}: every combination of their values is shared by at least {k} rows "
                "(K is the size of the smallest group)")
    if check_name.startswith("all_quasi_identifiers"):
        every = ", ".join(policy.output_name(c) for c in policy.quasi_identifiers)
        return f"K over every released quasi-identifier ({every}) against k = {k}"
    for prefix, text in _PER_ATTRIBUTE.items():
        if check_name.startswith(prefix):
            return text.format(attr=check_name[len(prefix):], qis=qis)
    for measure, text in _RISKS.items():
        if check_name.startswith(measure):
            return text.format(qis=qis) + " is within its target"
    return f"privacy target {check_name} over {qis}"
