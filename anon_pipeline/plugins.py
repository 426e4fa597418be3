"""Loading a registry's plugins from its entry-point group: the one way every registry of anon_pipeline (ops, privacy
models, quality models, hierarchy kinds) imports its built-ins and its plugins.

A plugin whose import raises is withdrawn (with anything it registered before failing) and warned about, so one
broken package does not break every policy.
"""

from __future__ import annotations

import warnings
from collections.abc import MutableMapping
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any


class PluginLoadWarning(UserWarning):
    """A plugin's entry point failed to import: what it registers is unavailable, everything else still works."""


@dataclass(frozen=True)
class BrokenPlugin:
    """An entry point whose import raised, and the names it registered before failing."""

    entry_point: str
    module: str
    package: str
    error: str
    names: tuple[str, ...] = ()

    def describe(self) -> str:
        return (f"plugin '{self.entry_point}' (module {self.module}, package {self.package}) failed to import: "
                f"{self.error}")


def load_plugins(group: str, builtin_module: str | None, registry: MutableMapping[str, Any],
                 what: str) -> dict[str, BrokenPlugin]:
    """Import ``builtin_module`` (by name, so a registry depends on none of the modules that register into it and a
    source checkout that is not installed still has its built-ins), then every other package's entry point of
    ``group``; ``what`` names the registered things in the warning ("ops"). Returns the plugins that failed."""
    if builtin_module is not None:
        import_module(builtin_module)
    broken: dict[str, BrokenPlugin] = {}
    for ep in entry_points(group=group):
        # This package's own entry point is the built-in module (metadata left by an older install may still name
        # its former path).
        if getattr(getattr(ep, "dist", None), "name", None) == "anon_pipeline":
            continue
        before = set(registry)
        try:
            ep.load()
        except Exception as exc:
            # What a half-imported module registered is withdrawn: its module may be missing what it uses.
            partial = tuple(sorted(set(registry) - before))
            for name in partial:
                del registry[name]
            dist = getattr(ep, "dist", None)
            package = f"{dist.name} {dist.version}" if dist is not None else "unknown"
            first_line = (str(exc).splitlines() or [""])[0][:200]
            broken[ep.name] = BrokenPlugin(ep.name, ep.value, package, f"{type(exc).__name__}: {first_line}", partial)
            warnings.warn(f"{broken[ep.name].describe()}; its {what} are unavailable, policies not using them are "
                          "unaffected", PluginLoadWarning, stacklevel=4)
    return broken
