"""The built-in privacy models: importing this module runs their ``@register_privacy_model`` decorators, in the
order their checks are listed (k, l, t, delta, beta, risk, then K_eps, which is reported, not checked)."""

from anon_pipeline.criteria import (  # noqa: F401
    k_anonymity, diversity, closeness, disclosure, risk, k_eps)
