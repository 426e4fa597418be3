"""Turning the core's ``CheckOutcome`` into Dagster check results and metadata."""

from __future__ import annotations

from typing import Any

import dagster as dg

from anon_pipeline.errors import problem_text
from anon_pipeline.pipeline.checks import CheckOutcome

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
        elif isinstance(value, float):
            # Numbers stay numbers so the UI plots them over runs; six figures, as a 1/19 in full reads as noise.
            out[key] = float(f"{value:.6g}")
        elif isinstance(value, int):
            out[key] = value
        elif isinstance(value, (dict, list)):
            if value:  # an empty list says nothing the check's result does not, behind a "Show JSON" click
                out[key] = dg.MetadataValue.json(_without_nones(value))
        else:
            out[key] = str(value)
    return out


def _without_nones(value: Any) -> Any:
    """JSON without the keys whose value is None (a problem with no hint shows no ``"hint": null``)."""
    if isinstance(value, dict):
        return {k: _without_nones(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nones(v) for v in value]
    return value


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
