"""The built-in ops: importing this module runs their ``@register_op`` decorators.

It sits above ``transforms``, ``search`` and ``synthesis`` and is found the way a plugin is, through the
``anon_pipeline.transforms`` entry-point group (``transforms.registry`` names it, never imports it), so the
registry does not depend on the packages whose ops it registers.
"""

from anon_pipeline.dp import ops as dp_ops  # noqa: F401
from anon_pipeline.search import ops as search_ops  # noqa: F401
from anon_pipeline.synthesis import ops as synthesis_ops  # noqa: F401
from anon_pipeline.transforms import (  # noqa: F401
    age, band, country_continent, encode, hierarchy, identifiers, postcode_region, regroup)
