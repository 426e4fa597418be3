"""Anonymity, risk and utility measures on any table and any set of quasi-identifiers."""

from anon_pipeline.metrics.k_anonymity import KAnonymity, class_sizes, encode_codes, k_anonymity

__all__ = ["KAnonymity", "class_sizes", "encode_codes", "k_anonymity"]
