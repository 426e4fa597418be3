"""The checks a run must pass before anything is released, as plain functions returning ``CheckOutcome``.

The Dagster layer turns each outcome into an ``AssetCheckResult``; ``run_policy`` uses them directly. Metadata
holds measured values, targets, counts and column names, never data values of the input.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from anon_pipeline.criteria import bind_checks, describe_check, evaluate_targets, planned_checks
from anon_pipeline.criteria.k_anonymity import ALL_QIS_CHECK
from anon_pipeline.metrics.counted import CountedRows
from anon_pipeline.pipeline.anonymise import anonymised_schema
from anon_pipeline.pipeline.leak import IdentifierIndex, LeakReport
from anon_pipeline.pipeline.qi_table import GUID, validate_table
from anon_pipeline.policy.model import Policy, Role


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    blocking: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)
    #: The typed error behind a failure, where there is one (bad input): ``run_policy`` raises it.
    error: Exception | None = field(default=None, compare=False, repr=False)

    def failure_reason(self) -> str:
        return f"{self.description} ({', '.join(f'{k}={v}' for k, v in self.metadata.items() if k in _SUMMARY)})"


_SUMMARY = ("K", "k_target", "measured", "target", "rows_below_k", "leaked_cells", "columns", "problems")


def outcomes_markdown(outcomes: list[CheckOutcome]) -> str:
    """The checks a release passed, as a table whose failures that did not block come first: the release page
    then says what a reader must know before using it (99 % of rows unique over every quasi-identifier, say)."""
    def verdict(o: CheckOutcome) -> str:
        return "passed" if o.passed else "**FAILED** (blocking)" if o.blocking else "**warning**: failed, not blocking"
    ordered = sorted(outcomes, key=lambda o: o.passed)
    rows = [f"| {o.name} | {verdict(o)} | {o.description.replace('|', '/')} |" for o in ordered]
    return "\n".join(["| check | result | what was measured |", "|---|---|---|", *rows])


def k_quasi_identifier_outputs(policy: Policy) -> list[str]:
    return [policy.output_name(c) for c in policy.k_quasi_identifiers]


def all_quasi_identifier_outputs(policy: Policy) -> list[str]:
    """Output names of every quasi-identifier the release carries, whatever set the k target names."""
    return [policy.output_name(c) for c in policy.quasi_identifiers]


def k_target_narrowed(policy: Policy) -> bool:
    return set(policy.k_quasi_identifiers) != set(policy.quasi_identifiers)


def privacy_section(policy: Policy) -> dict[str, Any]:
    """The policy's ``privacy:`` section as the metrics engine reads it. K is always measured: without a k
    target it is checked against 1, which only an empty table fails."""
    section = policy.privacy.model_dump()
    if section.get("k") is None:
        section["k"] = 1
    return section


def target_names(policy: Policy) -> tuple[list[str], dict[str, str]]:
    """(sensitive output columns, input -> output names) the privacy targets are measured with."""
    rename = {c: policy.output_name(c) for c in policy.columns}
    return [rename[c] for c in policy.columns_with(Role.sensitive)], rename


def planned_privacy_checks(policy: Policy) -> list[tuple[str, bool]]:
    """(name, blocking) of every privacy check, known without data (Dagster declares them up front)."""
    sensitive, rename = target_names(policy)
    return planned_checks(privacy_section(policy), sensitive, rename, narrowed=k_target_narrowed(policy))


def measured_columns(policy: Policy) -> list[str]:
    """Input names of every column the privacy checks and the anonymity report measure together: the
    quasi-identifiers, the sensitive columns, and any other column a target names (a plugin model's attribute)."""
    sensitive = policy.columns_with(Role.sensitive)
    named = [check.attribute for _, check in bind_checks(privacy_section(policy), sensitive, {},
                                                         k_target_narrowed(policy)) if check.attribute is not None]
    return list(dict.fromkeys([*policy.k_quasi_identifiers, *policy.quasi_identifiers, *sensitive,
                               *(c for c in named if c in policy.columns)]))


def check_privacy_targets(anonymised: pd.DataFrame | CountedRows, policy: Policy) -> list[CheckOutcome]:
    """One outcome per target of the ``privacy:`` section (k, l, t, delta, beta, risk), on the anonymised rows or
    their counts over the quasi-identifiers and sensitive attributes (``metrics.counted``)."""
    sensitive, rename = target_names(policy)
    results = evaluate_targets(privacy_section(policy), anonymised, k_quasi_identifier_outputs(policy), sensitive,
                               rename=rename, all_quasi_identifiers=all_quasi_identifier_outputs(policy),
                               base_dir=policy.base_dir)
    outcomes = []
    for r in results:
        meta = {"measured": r.measured, "target": r.target, **r.metadata}
        text = r.description()
        if r.name == "k_anonymity":
            meta.update(K=r.measured, k_target=policy.privacy.k)
            text = (f"K = {r.measured} {'>=' if r.passed else '<'} k = {r.target} over "
                    f"{', '.join(k_quasi_identifier_outputs(policy))}")
            if policy.privacy.k is None:
                text = f"K = {r.measured} (no k target set)"
            if r.measured == 0 and r.metadata.get("n_suppressed"):
                text = (f"K = 0: all {r.metadata['n_suppressed']} rows have every quasi-identifier at "
                        f"'{policy.privacy.suppression_marker}' (generalised to the top of each hierarchy, or "
                        "suppressed), which counts as suppressed, so no class is left; a generalise step asked for "
                        "more than the table can give (its plan shows the levels chosen and the rows suppressed)")
        elif r.name == ALL_QIS_CHECK:
            text = (f"K = {r.measured} {'>=' if r.passed else '<'} k = {r.target} over every released "
                    f"quasi-identifier ({', '.join(r.metadata['quasi_identifiers'])}); "
                    f"{100 * r.metadata['sample_unique_share']:.1f} % of rows are unique on them, highest "
                    f"prosecutor risk {r.metadata['prosecutor_risk_max']:.3g}")
            if not r.passed:
                text += (". The k target covers only " + ", ".join(k_quasi_identifier_outputs(policy))
                         + ": an attacker who knows the other released quasi-identifiers is not held to k")
        outcomes.append(CheckOutcome(r.name, r.passed, r.blocking, text, meta))
    return outcomes


def check_no_identifier_leak(raw: pd.DataFrame, anonymised: pd.DataFrame | dict[str, pd.Series],
                             policy: Policy) -> CheckOutcome:
    """No value of any direct-identifier column of the input occurs in ``anonymised``, as a whole cell or as a
    token of a free-text cell (see ``pipeline.leak``), in any column, kept columns included.

    The one exception is narrow and counted: a value that is that column's own input data and is held by at
    least ``max(k, 2)`` released cells of it (a given name that is also a common country) cannot point at one
    person. A value held by fewer cells counts as a leak even when it is the column's own data. ``anonymised``:
    its rows, or each column's value counts (index: the values), which is all the search reads.
    """
    index = identifier_index(policy, raw.columns)
    index.add(raw)
    found = index.leaks(anonymised) if isinstance(anonymised, pd.DataFrame) else index.leaks_in_counts(anonymised)
    return leak_outcome(index, found)


def identifier_index(policy: Policy, raw_columns: Iterable[str]) -> IdentifierIndex:
    """An empty index of the identifier values of input with ``raw_columns``, for ``leak_outcome``: ``add``
    every batch of the input, then ``leaks`` every batch of the anonymised table."""
    raw_columns = set(raw_columns)
    source_of = {policy.output_name(c): c for c in policy.kept_columns}
    own = {column: source for column, source in source_of.items()
           if policy.columns[source].role is not Role.identifier and source in raw_columns}
    # GUID is drawn from the OS's CSPRNG, never from the input.
    return IdentifierIndex([c for c in policy.identifiers if c in raw_columns], own,
                           min_shared=max(policy.privacy.k or 1, 2), skip=[GUID])


def leak_outcome(index: IdentifierIndex, report: LeakReport) -> CheckOutcome:
    """The no_identifier_leak outcome of what ``index.leaks`` found."""
    identifiers, min_shared = index.identifiers, index.min_shared
    passed = report.leaked_cells == 0
    text = ("no identifier value occurs in the anonymised table" if passed else
            f"{report.leaked_cells} cell(s) in column(s) {report.leaked_columns} hold a direct-identifier value "
            "of the input")
    if report.excused_cells:
        text += (f"; {report.excused_cells} cell(s) hold {report.excused_values} value(s) that are also their "
                 f"column's own data, each in at least {min_shared} cells, and are not counted")
    return CheckOutcome("no_identifier_leak", passed, True, text,
                        {"identifier_columns": identifiers, "leaked_cells": report.leaked_cells,
                         "columns": report.leaked_columns, "excused_cells": report.excused_cells,
                         "excused_values": report.excused_values, "excused_min_cells": min_shared})


def check_schema(name: str, frame: pd.DataFrame, schema) -> CheckOutcome:
    problems = validate_table(frame, schema)
    text = "conforms to its schema" if not problems else f"{len(problems)} schema rule(s) broken"
    return CheckOutcome(f"{name}_schema", not problems, True, text,
                        {"problems": problems, "rows": len(frame), "columns": len(frame.columns)})


def check_anonymised_schema(anonymised: pd.DataFrame, policy: Policy) -> CheckOutcome:
    return check_schema("anonymised", anonymised, anonymised_schema(policy))


def staging_checks(raw: pd.DataFrame, anonymised: pd.DataFrame, policy: Policy) -> list[CheckOutcome]:
    """Every check on the anonymised (staging) table."""
    return [check_anonymised_schema(anonymised, policy), check_no_identifier_leak(raw, anonymised, policy),
            *check_privacy_targets(anonymised, policy)]


def privacy_check_description(check_name: str, policy: Policy) -> str:
    """What a privacy check requires, in the release's column names (known before any data is read)."""
    sensitive, rename = target_names(policy)
    every = ", ".join(policy.output_name(c) for c in policy.quasi_identifiers)
    return describe_check(check_name, privacy_section(policy), sensitive, rename, k_target_narrowed(policy),
                          ", ".join(k_quasi_identifier_outputs(policy)), k_set=policy.privacy.k is not None,
                          every=every)
