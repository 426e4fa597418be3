"""Policies: the YAML contract a data engineer writes, loaded into validated models."""

from anon_pipeline.policy.load import BoundStep, bind_steps, load_policy, parse_policy
from anon_pipeline.policy.model import ColumnSpec, GroupSpec, Policy, PrivacySpec, Role, Step

__all__ = ["BoundStep", "ColumnSpec", "GroupSpec", "Policy", "PrivacySpec", "Role", "Step",
           "bind_steps", "load_policy", "parse_policy"]
