"""Registry of bundled, seeded sample-data generators that a policy's ``source.sample`` can name."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

import pandas as pd

Generator = Callable[[int, int], pd.DataFrame]   # (rows, seed) -> table

_GENERATORS: dict[str, Generator] = {}
_BUILTIN_MODULES = ("anon_pipeline.sample.insurance", "anon_pipeline.sample.flights")


def register_generator(name: str) -> Callable[[Generator], Generator]:
    def decorate(fn: Generator) -> Generator:
        _GENERATORS[name] = fn
        return fn
    return decorate


def get_generator(name: str) -> Generator:
    for module in _BUILTIN_MODULES:
        try:
            import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    try:
        return _GENERATORS[name]
    except KeyError:
        raise KeyError(f"unknown sample generator '{name}'; known: {', '.join(sorted(_GENERATORS))}") from None


def generate(name: str, rows: int, seed: int) -> pd.DataFrame:
    return get_generator(name)(rows, seed)
