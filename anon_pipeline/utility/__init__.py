"""Utility measures: KL divergence (Borisov et al. 2023), marginal agreement, association matrices, the report."""

from anon_pipeline.utility.association import association_matrix, correlation_ratio, cramers_v, pearson
from anon_pipeline.utility.kl import KL, kl_continuous, kl_discrete, kl_from_frequencies
from anon_pipeline.utility.marginals import ks_complement, tv_complement
from anon_pipeline.utility.report import utility_report

__all__ = ["KL", "association_matrix", "correlation_ratio", "cramers_v", "kl_continuous", "kl_discrete",
           "kl_from_frequencies", "ks_complement", "pearson", "tv_complement", "utility_report"]
