"""Anonymity, risk and utility measures on any table and any set of quasi-identifiers.

``measure`` is the plain entry point; ``evaluate_targets`` turns a policy's ``privacy:`` section into pass/fail
results; ``anonymity_report`` and ``report_markdown`` put raw and anonymised side by side.
"""

from anon_pipeline.metrics.k_anonymity import KAnonymity, class_sizes, encode_codes, k_anonymity
from anon_pipeline.metrics.measure import MeasureParams, PreparedTable, measure, prepare
from anon_pipeline.metrics.report import anonymity_report, report_markdown
from anon_pipeline.metrics.targets import (BetaTarget, DeltaTarget, LTarget, PrivacyTargets, RiskTargets,
                                           TargetResult, TTarget, evaluate_targets, planned_checks)

__all__ = ["BetaTarget", "DeltaTarget", "KAnonymity", "LTarget", "MeasureParams", "PreparedTable",
           "PrivacyTargets", "RiskTargets", "TTarget", "TargetResult", "anonymity_report", "class_sizes",
           "encode_codes", "evaluate_targets", "k_anonymity", "measure", "planned_checks", "prepare",
           "report_markdown"]
