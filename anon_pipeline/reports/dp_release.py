"""What of the reports and checks a differentially private release may publish.

A table drawn from a DP synthesis is DP, and so is anything computed from it alone (post-processing). A figure
computed on the exact input (a row count, a before-side distribution, raw K, copies of raw rows, an attack's
success on the input rows) is not: publishing it would spend privacy the ledger never charged. So a DP release
carries only the figures listed here, each computed on the released table, the policy or the DP plan; the full
reports stay in the private ``reports/`` folder. The lists are allow-lists: a field added to a report later
stays out of DP releases until it is added here on purpose.
"""

from __future__ import annotations

from typing import Any

#: A field kept whole.
KEEP = True
#: In a mapping spec: the spec every entry of a per-column mapping follows.
EACH = "*"
NOTE = ("differentially private release: only figures computed on the released table, the policy or the DP plan "
        "are published; figures on the exact input (row counts, before-side distributions, raw measures, copies of "
        "input rows, attacks on input rows) would spend privacy the ledger does not charge, and stay in the "
        "private reports folder")

_AFTER_SIDE = {"role": KEEP, "output": KEEP, "ops": KEEP, "after": KEEP, "after_distribution": KEEP,
               "pseudonymisation": KEEP}
SAFE_FIELDS: dict[str, dict[str, Any]] = {
    "anonymity_report": {
        "policy": KEEP, "k_target": KEEP, "quasi_identifiers": {"anonymised": KEEP},
        "sensitive_attributes": {"anonymised": KEEP}, "anonymised": KEEP,
        "steps": KEEP,  # the plan's summary: the DP plan's own output, and the column steps before it read no data
        "union": KEEP,  # K over this and earlier released tables
        "all_quasi_identifiers": {"quasi_identifiers": KEEP, "narrowed": KEEP, "K": KEEP,
                                  "sample_unique_share": KEEP, "anonymised": KEEP, "warning": KEEP},
        "k_eps": {"level_percent": KEEP, "anonymised": KEEP},
    },
    "utility_report": {"policy": KEEP, "rows_after": KEEP, "columns": {EACH: _AFTER_SIDE}},
}


def _kept(doc: Any, spec: Any) -> Any:
    if spec is KEEP:
        return doc
    if not isinstance(doc, dict):
        return None
    if EACH in spec:
        return {k: _kept(v, spec[EACH]) for k, v in doc.items()}
    return {k: _kept(doc[k], sub) for k, sub in spec.items() if k in doc}


def dp_release_reports(reports: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The reports as a DP release may carry them: the allowed fields of each known report, with a note; a
    report with no allowed field (the attack report: every figure of it is about input rows) is left out."""
    out = {}
    for name, doc in reports.items():
        spec = SAFE_FIELDS.get(name)
        if spec is None:
            continue
        kept = _kept(doc, spec)
        if name == "anonymity_report" and "anonymised" in doc:
            # The report's notes mix both sides (raw row counts); the released side's own notes are safe.
            kept["notes"] = doc["anonymised"].get("notes", [])
        out[name] = {**kept, "differential_privacy": NOTE}
    return out


def dp_release_checks(checks: dict[str, dict[str, Any]], on_release: set[str]) -> dict[str, dict[str, Any]]:
    """The manifest's checks as a DP release may carry them: checks measured on the released table alone
    (``on_release``) whole; a blocking check that reads the input only as passed (it must have passed for the
    release to exist, so that says nothing new); a non-blocking one that reads the input not at all."""
    out = {}
    for name, check in checks.items():
        if name in on_release:
            out[name] = check
        elif check.get("blocking"):
            out[name] = {"passed": check["passed"], "blocking": True, "value": None,
                         "description": "reads the input: its figures stay in the private reports folder"}
    return out
