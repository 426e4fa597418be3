"""Privacy models: one class per model (its typed spec in the ``privacy:`` section, its whole-table measure, its
per-class test for the lattice search, its monotonicity), a registry, and the ``privacy:`` section built from it.

A plugin adds a model by subclassing ``PrivacyModel``, decorating it with ``register_privacy_model`` and naming
its module in the ``anon_pipeline.privacy_models`` entry-point group.
"""

from anon_pipeline.criteria.base import (TOLERANCE, ClassCells, Evaluation, PerAttributeSpec, PrivacyModel,
                                         TargetResult, TargetSpec)
from anon_pipeline.criteria.registry import ENTRY_POINT_GROUP, register_privacy_model, registered_privacy_models
from anon_pipeline.criteria.section import (PrivacyTargets, bind_checks, describe_check, evaluate_targets,
                                            planned_checks, section_model)

__all__ = ["ENTRY_POINT_GROUP", "TOLERANCE", "ClassCells", "Evaluation", "PerAttributeSpec",
           "PrivacyModel", "PrivacyTargets", "TargetResult", "TargetSpec", "bind_checks", "describe_check",
           "evaluate_targets", "planned_checks", "register_privacy_model", "registered_privacy_models",
           "section_model"]
