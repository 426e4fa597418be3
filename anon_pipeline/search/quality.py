"""Quality models as ARX defines them: a lower bound per lattice node, and the exact score of a grouped node.

Lower is better for every model. ``bounds`` is vectorised over all nodes and never needs a group-by; it is a
valid lower bound of the exact score, and grows with generalisation, which is what lets the search prune.

* ``loss`` -- ARX's default "Loss" (generalisation intensity): per column, the domain share of every
  row's generalised value (an outlier counts 1), normalised to [0, 1] by ``(x - n/|domain|) / (n - n/|domain|)``
  and aggregated by ARX's geometric mean ``prod(v + 1) ** (1/d) - 1``.
* ``nu_entropy`` -- ARX's monotonic non-uniform entropy: per column ``-sum_v a_v log2(a_v / b_g(v))`` over the
  input's value counts ``a`` and the counts ``b`` of their generalisations; summed over columns. Suppression
  does not change it (ARX's monotonic variant, ``createEntropyMetric(true)``).
* ``nu_entropy_nm`` -- ARX's non-monotonic non-uniform entropy (``createEntropyMetric(false)``): the above plus,
  per column, ``-sum_g c_g log2(c_g / s)`` over the ``s`` suppressed rows' generalised values ``g``.
* ``discernibility`` -- sum of squared class sizes, an outlier row costing ``n`` instead.
* ``aecs`` -- average class size, ``n / (non-suppressed classes + 1 if anything is suppressed)``.
* ``precision`` -- per column ``(kept rows * level/height + suppressed rows) / n``, arithmetic mean.
* ``height`` -- sum of the levels.

More models register with ``@register_quality_model(name)`` on a ``Quality`` subclass, in this package or in a
plugin through the ``anon_pipeline.quality_models`` entry-point group; ``generalise``'s ``quality:`` accepts any
registered name.
"""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np

from anon_pipeline.hierarchies.encoded import EncodedHierarchy
from anon_pipeline.plugins import load_plugins
from anon_pipeline.search.grouping import NodeGroups
from anon_pipeline.strict_model import closest

ENTRY_POINT_GROUP = "anon_pipeline.quality_models"


class Quality:
    """Base: subclasses fill ``bounds`` and ``score``; ``exact_is_bound`` says when no group-by is needed."""

    name = ""

    def __init__(self, hierarchies: list[EncodedHierarchy], codes: np.ndarray, n_rows: int,
                 weights: np.ndarray | None = None) -> None:
        self.hierarchies = hierarchies
        self.n_rows = n_rows
        # a[j][v]: rows with level-0 value v in column j (``weights``: rows each row of ``codes`` stands for)
        self.value_counts = [np.bincount(codes[:, j], weights=weights, minlength=h.domain_size).astype(np.float64)
                             for j, h in enumerate(hierarchies)]

    def bounds(self, nodes: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def exact_is_bound(self, max_outliers: int) -> bool:
        return False

    def score(self, levels: np.ndarray, groups: NodeGroups, class_outlier: np.ndarray) -> float:
        """Exact score of a grouped node, given which of its classes are suppressed."""
        raise NotImplementedError

    def refine(self, levels: np.ndarray, class_sizes: np.ndarray) -> float | None:
        """A lower bound valid for this node and every more general one, from its class sizes (or None)."""
        return None


QualityClass = TypeVar("QualityClass", bound=type)

_REGISTRY: dict[str, type[Quality]] = {}
_LOADED = False


def register_quality_model(name: str):
    """Class decorator: ``@register_quality_model("height")`` makes ``quality: height`` valid in ``generalise`` and
    ``optimal``."""

    def decorate(cls: QualityClass) -> QualityClass:
        if not issubclass(cls, Quality):
            raise TypeError(f"quality model '{name}': {cls.__name__} must subclass Quality")
        existing = _REGISTRY.get(name)
        if existing is not None and (existing.__module__, existing.__qualname__) != (cls.__module__, cls.__qualname__):
            raise ValueError(f"quality model '{name}' is already registered by {existing.__module__}."
                             f"{existing.__qualname__}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def registered_quality_models() -> dict[str, type[Quality]]:
    """Every registered model, built-ins first (they register as this module is imported)."""
    global _LOADED
    if not _LOADED:
        _LOADED = True
        load_plugins(ENTRY_POINT_GROUP, None, _REGISTRY, "quality models")
    return dict(_REGISTRY)


def unknown_quality(name: str) -> str:
    """Why ``name`` is not a quality model, naming the closest registered one."""
    models = list(registered_quality_models())
    best = closest(name, models)
    hint = f" (did you mean '{best}'?)" if best else ""
    return f"unknown quality model '{name}'{hint}; registered models: {', '.join(models)}"


def _per_level(hierarchies: list[EncodedHierarchy], fn) -> list[np.ndarray]:
    return [np.array([fn(j, h, level) for level in range(h.height + 1)]) for j, h in enumerate(hierarchies)]


def _sum_columns(tables: list[np.ndarray], nodes: np.ndarray) -> np.ndarray:
    out = np.zeros(len(nodes))
    for j, table in enumerate(tables):
        out += table[nodes[:, j]]
    return out


@register_quality_model("nu_entropy")
class NonUniformEntropy(Quality):
    def __init__(self, hierarchies, codes, n_rows, weights=None):
        super().__init__(hierarchies, codes, n_rows, weights)

        def column_entropy(j: int, h: EncodedHierarchy, level: int) -> float:
            a = self.value_counts[j]
            up = h.level_codes[level]
            b = np.bincount(up, weights=a, minlength=h.cardinality(level))[up]
            present = a > 0
            return float(-np.sum(a[present] * (np.log(a[present] / b[present]) / math.log(2))))

        self.tables = _per_level(hierarchies, column_entropy)

    def bounds(self, nodes):
        return _sum_columns(self.tables, nodes)

    def exact_is_bound(self, max_outliers):
        return True

    def score(self, levels, groups, class_outlier):
        return float(self.bounds(levels[None, :])[0])


@register_quality_model("nu_entropy_nm")
class NonUniformEntropyNonMonotonic(NonUniformEntropy):
    """ARX's non-monotonic variant: suppressed rows add, per column, the entropy of their generalised values."""

    def exact_is_bound(self, max_outliers):
        return max_outliers == 0

    def score(self, levels, groups, class_outlier):
        total = float(self.bounds(levels[None, :])[0])
        row_outlier = class_outlier[groups.table.cls]
        if not row_outlier.any():
            return total
        w = groups.table.counts[row_outlier].astype(np.float64)
        suppressed = float(w.sum())
        codes = groups.codes_of(row_outlier)
        for j in range(len(levels)):
            c = np.bincount(codes[:, j], weights=w)
            c = c[c > 0]
            total += float(-np.sum(c * (np.log(c / suppressed) / math.log(2))))
        return total


@register_quality_model("height")
class Height(Quality):
    def bounds(self, nodes):
        return nodes.sum(axis=1).astype(np.float64)

    def exact_is_bound(self, max_outliers):
        return True

    def score(self, levels, groups, class_outlier):
        return float(levels.sum())


@register_quality_model("loss")
class Loss(Quality):
    def __init__(self, hierarchies, codes, n_rows, weights=None):
        super().__init__(hierarchies, codes, n_rows, weights)
        # Raw per-column sum of domain shares over all rows, as if nothing were suppressed.
        self.raw = _per_level(hierarchies, lambda j, h, level: float(
            np.dot(self.value_counts[j], h.shares[level][h.level_codes[level]])))
        self.minimum = np.array([n_rows / h.domain_size for h in hierarchies])

    def _aggregate(self, raw: np.ndarray) -> np.ndarray:
        n = float(self.n_rows)
        span = n - self.minimum
        with np.errstate(divide="ignore", invalid="ignore"):
            norm = np.where(span > 0, (raw - self.minimum) / np.where(span > 0, span, 1.0), 0.0)
        norm = np.maximum(norm, 0.0)
        result = np.ones(raw.shape[0])
        inv = 1.0 / raw.shape[1]
        # Column by column, in order, as ARX multiplies.
        for j in range(raw.shape[1]):
            result = result * np.power(norm[:, j] + 1.0, inv)
        return result - 1.0

    def bounds(self, nodes):
        raw = np.stack([self.raw[j][nodes[:, j]] for j in range(nodes.shape[1])], axis=1)
        return self._aggregate(raw)

    def exact_is_bound(self, max_outliers):
        return max_outliers == 0

    def score(self, levels, groups, class_outlier):
        raw = np.array([self.raw[j][levels[j]] for j in range(len(levels))])
        row_outlier = class_outlier[groups.table.cls]
        if row_outlier.any():
            w = groups.table.counts[row_outlier].astype(np.float64)
            codes = groups.codes_of(row_outlier)
            for j, h in enumerate(self.hierarchies):
                share = h.shares[levels[j]][codes[:, j]]
                raw[j] += float(np.dot(w, 1.0 - share))
        return float(self._aggregate(raw[None, :])[0])


@register_quality_model("precision")
class Precision(Quality):
    def __init__(self, hierarchies, codes, n_rows, weights=None):
        super().__init__(hierarchies, codes, n_rows, weights)
        self.heights = np.array([h.height for h in hierarchies], dtype=np.float64)

    def _ratio(self, nodes: np.ndarray) -> np.ndarray:
        safe = np.where(self.heights > 0, self.heights, 1.0)
        return np.where(self.heights > 0, nodes / safe, 0.0)

    def bounds(self, nodes):
        return self._ratio(nodes).mean(axis=1)

    def exact_is_bound(self, max_outliers):
        return max_outliers == 0

    def score(self, levels, groups, class_outlier):
        suppressed = float(groups.table.sizes[class_outlier].sum())
        kept = float(self.n_rows) - suppressed
        per_column = (kept * self._ratio(levels[None, :])[0] + suppressed) / self.n_rows
        return float(per_column.mean())


class _ClassCountBound(Quality):
    """Models whose only a-priori bound comes from the most classes a node can have."""

    def _max_classes(self, nodes: np.ndarray) -> np.ndarray:
        # distinct values actually present bound the classes better than the hierarchy's labels
        present = [np.array([np.count_nonzero(np.bincount(h.level_codes[level], weights=self.value_counts[j],
                                                          minlength=h.cardinality(level)))
                             for level in range(h.height + 1)], dtype=np.float64)
                   for j, h in enumerate(self.hierarchies)]
        log_classes = _sum_columns([np.log(p) for p in present], nodes)
        return np.minimum(np.exp(np.minimum(log_classes, 700.0)), float(self.n_rows))


@register_quality_model("discernibility")
class Discernibility(_ClassCountBound):
    def bounds(self, nodes):
        return float(self.n_rows) ** 2 / self._max_classes(nodes)

    def score(self, levels, groups, class_outlier):
        s = groups.table.sizes.astype(np.float64)
        return float(np.sum(np.where(class_outlier, s * self.n_rows, s * s)))

    def refine(self, levels, class_sizes):
        s = class_sizes.astype(np.float64)
        return float(np.dot(s, s))


@register_quality_model("aecs")
class AverageClassSize(_ClassCountBound):
    def bounds(self, nodes):
        return float(self.n_rows) / self._max_classes(nodes)

    def score(self, levels, groups, class_outlier):
        kept = int(np.count_nonzero(~class_outlier))
        groups = kept + (1 if class_outlier.any() else 0)
        return float(self.n_rows) / groups if groups else float(self.n_rows)

    def refine(self, levels, class_sizes):
        return float(self.n_rows) / len(class_sizes) if len(class_sizes) else None


#: The built-in models (every registered one, plugins included: ``registered_quality_models``).
QUALITY_MODELS = tuple(_REGISTRY)


def make_quality(name: str, hierarchies: list[EncodedHierarchy], codes: np.ndarray, n_rows: int,
                 weights: np.ndarray | None = None) -> Quality:
    try:
        model = registered_quality_models()[name]
    except KeyError:
        raise ValueError(unknown_quality(name)) from None
    return model(hierarchies, codes, n_rows, weights)
