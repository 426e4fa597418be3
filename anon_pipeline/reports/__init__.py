"""Anonymity and utility reports: JSON-ready dicts and markdown tables."""

from anon_pipeline.reports.anonymity import anonymity_markdown, anonymity_report
from anon_pipeline.reports.utility import utility_markdown, utility_report

__all__ = ["anonymity_markdown", "anonymity_report", "utility_markdown", "utility_report"]
