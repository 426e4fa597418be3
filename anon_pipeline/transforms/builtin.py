"""Imports every built-in op module so their ``@register_op`` decorators run."""

from anon_pipeline.transforms import (  # noqa: F401
    age, band, country_continent, encode, hierarchy, identifiers, postcode_region, regroup)
from anon_pipeline.search import ops as search_ops  # noqa: F401
from anon_pipeline.synthesis import ops as synthesis_ops  # noqa: F401
from anon_pipeline.dp import ops as dp_ops  # noqa: F401
