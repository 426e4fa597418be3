"""Anonymity, risk and utility measures on any table and any set of quasi-identifiers.

``measure`` is the plain entry point; ``anonymity_report`` and ``report_markdown`` put raw and anonymised side by
side. The privacy models that turn a ``privacy:`` section into pass/fail checks live in ``anon_pipeline.criteria``.
"""

from anon_pipeline.metrics.k_anonymity import KAnonymity, class_sizes, encode_codes, k_anonymity
from anon_pipeline.metrics.measure import MeasureParams, PreparedTable, measure, prepare
from anon_pipeline.metrics.report import anonymity_report, report_markdown

__all__ = ["KAnonymity", "MeasureParams", "PreparedTable", "anonymity_report", "class_sizes", "encode_codes",
           "k_anonymity", "measure", "prepare", "report_markdown"]
