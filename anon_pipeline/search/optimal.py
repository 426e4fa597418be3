"""The public entry point: the globally optimal full-domain generalisation of a table, and its result.

``optimal`` encodes the table once, runs the lattice search, and reports the chosen levels, the score, the
suppressed rows, the nodes checked, the search time and what every lower neighbour of the chosen node failed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from anon_pipeline.hierarchies.encoded import EncodedHierarchy
from anon_pipeline.search.criteria import Criteria
from anon_pipeline.search.grouping import Grouper
from anon_pipeline.search.lattice import LatticeSearch
from anon_pipeline.search.problem import HierarchyLike, Problem, encode_problem, to_hierarchy_frame
from anon_pipeline.search.quality import Quality, make_quality


@dataclass(frozen=True)
class OptimalResult:
    """The chosen transformation and how the search got there."""

    levels: dict[str, int]
    score: float
    suppressed: int
    nodes_checked: int
    search_seconds: float
    quality: str
    n_rows: int
    max_suppressed: int
    lattice_size: int
    #: True for every input row (in order) whose class is suppressed at the chosen node
    suppressed_mask: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, dtype=bool))
    #: per lower neighbour of the chosen node (one level less in one column): what it failed
    lower_neighbours: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"levels": dict(self.levels), "score": self.score, "suppressed": self.suppressed,
                "nodes_checked": self.nodes_checked, "search_seconds": self.search_seconds,
                "quality": self.quality, "n_rows": self.n_rows, "max_suppressed": self.max_suppressed,
                "lattice_size": self.lattice_size, "lower_neighbours": list(self.lower_neighbours)}


def _neighbour_report(problem: Problem, quality: Quality, levels: np.ndarray, grouper: Grouper) -> list[dict]:
    """What every lower neighbour of the chosen node fails (or that it scores no better)."""
    out = []
    for j, col in enumerate(problem.columns):
        if levels[j] == 0:
            continue
        lower = levels.copy()
        lower[j] -= 1
        groups = grouper.group(tuple(int(x) for x in lower))
        table = groups.table
        by_check = problem.criteria.failing_by_check(table)
        fail = np.zeros(len(table.sizes), dtype=bool)
        for f in by_check.values():
            fail |= f
        suppressed = int(table.sizes[fail].sum())
        entry = {"column": col, "levels": {n: int(v) for n, v in zip(problem.columns, lower)},
                 "rows_to_suppress": suppressed, "suppression_budget": problem.max_outliers,
                 "satisfies": suppressed <= problem.max_outliers}
        # per check (k_anonymity, l_diversity_<attribute>, ...): the classes and rows failing it
        entry["failing"] = {name: {"classes": int(f.sum()), "rows": int(table.sizes[f].sum())}
                            for name, f in by_check.items()}
        if entry["satisfies"]:
            entry["score"] = quality.score(lower, groups, fail)
            entry["why_not_chosen"] = "satisfies the criteria but scores no better than the chosen node"
        else:
            entry["why_not_chosen"] = "would suppress more rows than the suppression limit allows"
        out.append(entry)
    return out


def search_problem(problem: Problem, quality: str) -> OptimalResult:
    """Run the search on an encoded problem."""
    started = time.perf_counter()
    model = make_quality(quality, problem.hierarchies, problem.codes, problem.n_rows, problem.weights)
    search = LatticeSearch(problem, model)
    search.run()
    elapsed = time.perf_counter() - started
    if search.best < 0:
        raise ValueError("no generalisation satisfies the privacy criteria within the suppression limit")
    levels = search.nodes[search.best]
    row_class, table, fail = problem.classify(levels)
    mask = fail[row_class]
    return OptimalResult(
        levels={c: int(v) for c, v in zip(problem.columns, levels)},
        score=float(search.best_score),
        suppressed=int(problem.row_weights[mask].sum()),
        nodes_checked=int(search.grouper.groupings),
        search_seconds=elapsed,
        quality=quality,
        n_rows=problem.n_rows,
        max_suppressed=problem.max_outliers,
        lattice_size=len(search.nodes),
        suppressed_mask=mask,
        lower_neighbours=_neighbour_report(problem, model, levels, search.grouper),
    )


def evaluate_levels(problem: Problem, levels: Mapping[str, int] | list[int], quality: str) -> tuple[float, int, bool]:
    """(score, suppressed rows, criteria met within the limit) of one given node, e.g. another tool's choice."""
    lv = np.array([levels[c] for c in problem.columns] if isinstance(levels, Mapping) else list(levels),
                  dtype=np.int64)
    model = make_quality(quality, problem.hierarchies, problem.codes, problem.n_rows, problem.weights)
    groups = Grouper(problem.hierarchies, problem.codes, problem.sensitive, problem.n_sensitive,
                     weights=problem.weights).group(
        tuple(int(x) for x in lv))
    fail = problem.criteria.failing(groups.table)
    suppressed = int(groups.table.sizes[fail].sum())
    return model.score(lv, groups, fail), suppressed, suppressed <= problem.max_outliers


def optimal(df: pd.DataFrame, hierarchies: Mapping[str, HierarchyLike], *, k: int | None = None,
            l: float | None = None, l_variant: str = "distinct", sensitive: str | None = None,
            t: float | None = None, suppression_limit: float = 0.0, quality: str = "loss",
            t_variant: str = "equal", weights=None, privacy=None) -> OptimalResult:
    """The globally optimal full-domain generalisation of ``df`` meeting the criteria.

    ``hierarchies`` maps each quasi-identifier (in this order) to a hierarchy frame or an ARX CSV path.
    Criteria combine freely: ``k``; ``l`` with ``l_variant`` "distinct" or "entropy"; ``t`` with ``t_variant``
    "equal" (categorical) or "ordered" (numeric) earth mover's distance; ``l``/``t`` need ``sensitive``.
    ``privacy``: a ``privacy:`` section (any registered privacy model, plugins included), added to the keywords.
    Rows of classes failing the criteria are suppressed while they fit ``floor(suppression_limit * rows)``.
    ``quality`` is a registered quality model (``search.quality``: "loss", "nu_entropy", "discernibility", "aecs",
    "precision", "height", ... or a plugin's; lower is better, as ARX defines them). ``weights`` (optional): how many rows each row of ``df`` stands for, e.g. the
    counts of its distinct rows; the result is then the one on the expanded table (``suppressed`` counts rows
    of it, ``suppressed_mask`` marks rows of ``df``).
    """
    criteria = Criteria(k=k, l=l, l_variant=l_variant, t=t, t_variant=t_variant, privacy=privacy)
    problem = encode_problem(df, hierarchies, criteria, sensitive, suppression_limit, weights)
    return search_problem(problem, quality)


def apply_levels(df: pd.DataFrame, hierarchies: Mapping[str, HierarchyLike], levels: Mapping[str, int], *,
                 suppressed: np.ndarray | None = None, suppress: str = "star") -> pd.DataFrame:
    """``df`` with every quasi-identifier generalised to its level; ``suppressed`` rows become ``*`` or go.

    ``suppressed`` is a boolean per row, e.g. ``OptimalResult.suppressed_mask``.
    """
    if suppress not in ("star", "remove"):
        raise ValueError("suppress must be 'star' or 'remove'")
    out = df.copy()
    for column, level in levels.items():
        encoded = EncodedHierarchy.build(column, to_hierarchy_frame(hierarchies[column]))
        out[column] = encoded.generalise(encoded.encode(df[column]), int(level))
    if suppressed is None or not suppressed.any():
        return out
    if suppress == "remove":
        return out.loc[~suppressed]
    out.loc[suppressed, list(levels)] = "*"
    return out
