"""The registry of privacy models: a decorator for this package and the ``anon_pipeline.privacy_models``
entry-point group for plugins, loaded on first use like the ops' (``transforms.registry``).

The built-in models are registered by ``BUILTIN_MODULE``, which this module names rather than imports, so it
depends on none of the model modules; importing a model module alone registers nothing.
"""

from __future__ import annotations

from typing import TypeVar

from anon_pipeline.criteria.base import PrivacyModel
from anon_pipeline.plugins import load_plugins

ENTRY_POINT_GROUP = "anon_pipeline.privacy_models"
BUILTIN_MODULE = "anon_pipeline.criteria.builtin"

ModelClass = TypeVar("ModelClass", bound=type)

_REGISTRY: dict[str, type[PrivacyModel]] = {}
_LOADED = False


def register_privacy_model(name: str):
    """Class decorator: ``@register_privacy_model("p_sensitive")`` makes the model's ``privacy:`` key(s) valid
    in a policy and in ``generalise``."""

    def decorate(cls: ModelClass) -> ModelClass:
        if not issubclass(cls, PrivacyModel):
            raise TypeError(f"privacy model '{name}': {cls.__name__} must subclass PrivacyModel")
        existing = _REGISTRY.get(name)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise ValueError(f"privacy model '{name}' is already registered by {existing.__module__}."
                             f"{existing.__qualname__}")
        keys = set(cls.section_fields())
        for other_name, other in _REGISTRY.items():
            clash = keys & set(other.section_fields())
            if other_name != name and clash:
                raise ValueError(f"privacy model '{name}': key(s) {sorted(clash)} already belong to '{other_name}'")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def _load() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        load_plugins(ENTRY_POINT_GROUP, BUILTIN_MODULE, _REGISTRY, "privacy models")


def registered_privacy_models() -> dict[str, type[PrivacyModel]]:
    """Every registered model, built-ins first, in registration order (the order of the checks)."""
    _load()
    return dict(_REGISTRY)
