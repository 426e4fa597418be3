"""The registry of hierarchy kinds: a decorator for this package and the ``anon_pipeline.hierarchy_kinds``
entry-point group for plugins, loaded on first use like the ops' and the privacy models'.

A kind is a builder ``(arg, values, base_dir) -> DataFrame`` returning the hierarchy table in ARX's layout (column
0 the value as text, then ever more general levels, the last ``*``) for the distinct ``values`` it is given. A
plugin kind names a pydantic ``spec``: a policy writes it ``{kind: <name>, <the spec's fields>}`` and the builder
gets the validated spec as ``arg``. The built-in kinds (``BUILTIN_MODULE``) keep their own forms
(``intervals: [...]``), validated by ``HierarchySpec``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel

from anon_pipeline.plugins import load_plugins

ENTRY_POINT_GROUP = "anon_pipeline.hierarchy_kinds"
BUILTIN_MODULE = "anon_pipeline.hierarchies.builders"

Builder = Callable[[Any, pd.Series, Path], pd.DataFrame]


@dataclass(frozen=True)
class HierarchyKind:
    name: str
    build: Builder
    #: The model of a plugin kind's parameters (None: a built-in kind, validated by its ``HierarchySpec`` field).
    spec: type[BaseModel] | None = None
    #: The builder places each value alone (not from the other values), so values first seen at apply can be
    #: generalised by building the hierarchy for them.
    value_local: bool = False


_REGISTRY: dict[str, HierarchyKind] = {}
_LOADED = False


def register_hierarchy_kind(name: str, spec: type[BaseModel] | None = None, *, value_local: bool = False):
    """Function decorator: ``@register_hierarchy_kind("bands", BandsSpec)`` makes ``{kind: bands, ...}`` a valid
    hierarchy in a policy, its parameters validated by ``BandsSpec`` (best a ``StrictModel``) when it loads."""

    def decorate(build: Builder) -> Builder:
        if spec is not None and not (isinstance(spec, type) and issubclass(spec, BaseModel)):
            raise TypeError(f"hierarchy kind '{name}': its spec must be a pydantic model class")
        existing = _REGISTRY.get(name)
        where = f"{build.__module__}.{build.__qualname__}"
        if existing is not None and f"{existing.build.__module__}.{existing.build.__qualname__}" != where:
            raise ValueError(f"hierarchy kind '{name}' is already registered by {existing.build.__module__}."
                             f"{existing.build.__qualname__}")
        _REGISTRY[name] = HierarchyKind(name, build, spec, value_local)
        return build

    return decorate


def registered_hierarchy_kinds() -> dict[str, HierarchyKind]:
    """Every registered kind, built-ins first."""
    global _LOADED
    if not _LOADED:
        _LOADED = True
        load_plugins(ENTRY_POINT_GROUP, BUILTIN_MODULE, _REGISTRY, "hierarchy kinds")
    return dict(_REGISTRY)
