"""Automatic generalisation: lattice search for the optimal full-domain generalisation, and Mondrian.

``optimal(df, hierarchies, k=..., l=..., t=..., suppression_limit=..., quality=...)`` returns the globally
optimal levels under ARX's quality models; ``apply_levels`` generalises a table to them; ``mondrian`` is
multidimensional local recoding for numeric quasi-identifiers. The pipeline op ``generalise`` lives in
``anon_pipeline.search.ops``.
"""

from anon_pipeline.search.mondrian import MondrianResult, mondrian
from anon_pipeline.search.optimal import OptimalResult, apply_levels, optimal
from anon_pipeline.search.quality import QUALITY_MODELS

__all__ = ["QUALITY_MODELS", "MondrianResult", "OptimalResult", "apply_levels", "mondrian", "optimal"]
