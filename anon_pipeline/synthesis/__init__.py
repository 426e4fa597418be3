"""Anonymisation by synthesis (Borisov, Bosov and Ivanov 2023): discrete and kernel-density synthesis, rare-value
merging, date/time partitions, the noise baseline, attribute grouping and the privacy of synthetic rows.

The registered ops live in ``anon_pipeline.synthesis.ops`` (import it to register them).
"""

from anon_pipeline.stats.kde import log_density, sample_mixture, silverman_bandwidth, silverman_factor
from anon_pipeline.synthesis.continuous import fit_kde, synthesize_continuous
from anon_pipeline.synthesis.discrete import sample_discrete, sampling_pool
from anon_pipeline.synthesis.privacy import closest_record, privacy_report, reproductions

__all__ = ["closest_record", "fit_kde", "log_density", "privacy_report", "reproductions", "sample_discrete",
           "sample_mixture", "sampling_pool", "silverman_bandwidth", "silverman_factor", "synthesize_continuous"]
