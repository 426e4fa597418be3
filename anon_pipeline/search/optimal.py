"""The globally optimal full-domain generalisation: a lattice search pruned by monotonicity and bounds.

In the spirit of ARX's Flash: a node's quality has a lower bound computed for the whole lattice at once;
the search repeatedly takes the unresolved node with the lowest bound, and -- when the criteria are
monotone -- binary-searches a chain from it to the top, so each check settles the status of whole
down-sets (not anonymous) or up-sets (anonymous). It stops when no unresolved node can beat the best
anonymous node found. Ties are broken by the lower sum of levels, then lexicographically.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from anon_pipeline.hierarchies.arx_csv import load_arx_csv
from anon_pipeline.hierarchies.encoded import EncodedHierarchy
from anon_pipeline.search.criteria import (ClassTable, Criteria, encode_sensitive, failing_classes,
                                           global_distribution)
from anon_pipeline.search.grouping import Grouper, NodeGroups, row_classes
from anon_pipeline.search.quality import Quality, make_quality

MAX_LATTICE_NODES = 5_000_000

HierarchyLike = pd.DataFrame | str | Path


@dataclass(frozen=True)
class Problem:
    """A table encoded once for searching: level-0 codes per quasi-identifier and the sensitive codes."""

    columns: list[str]
    hierarchies: list[EncodedHierarchy]
    codes: np.ndarray
    sensitive: np.ndarray | None
    sensitive_values: np.ndarray | None
    criteria: Criteria
    suppression_limit: float

    @property
    def n_rows(self) -> int:
        return int(self.codes.shape[0])

    @property
    def max_outliers(self) -> int:
        # ARX: floor(limit * rows)
        return int(math.floor(self.suppression_limit * float(self.n_rows)))

    @property
    def n_sensitive(self) -> int:
        return 0 if self.sensitive_values is None else len(self.sensitive_values)

    @property
    def global_distribution(self) -> np.ndarray | None:
        return global_distribution(self.sensitive, self.n_sensitive)

    def classify(self, levels) -> tuple[np.ndarray, ClassTable, np.ndarray]:
        """Per data row: its class; the class table; which classes are suppressed."""
        row_class, table = row_classes(self.hierarchies, self.codes, tuple(levels), self.sensitive, self.n_sensitive)
        return row_class, table, failing_classes(table, self.criteria, self.global_distribution)


def to_hierarchy_frame(hierarchy: HierarchyLike) -> pd.DataFrame:
    if isinstance(hierarchy, pd.DataFrame):
        return hierarchy
    return load_arx_csv(hierarchy)


def encode_problem(df: pd.DataFrame, hierarchies: Mapping[str, HierarchyLike], criteria: Criteria,
                   sensitive: str | None, suppression_limit: float) -> Problem:
    if not hierarchies:
        raise ValueError("give a hierarchy for at least one quasi-identifier")
    if not 0.0 <= suppression_limit <= 1.0:
        raise ValueError("suppression_limit must be within [0, 1]")
    columns = list(hierarchies)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"quasi-identifier column(s) not in the table: {missing}")
    encoded = [EncodedHierarchy.build(c, to_hierarchy_frame(hierarchies[c])) for c in columns]
    codes = np.stack([h.encode(df[c]) for h, c in zip(encoded, columns)], axis=1) if len(df) else \
        np.zeros((0, len(columns)), dtype=np.int64)
    sens_codes = sens_values = None
    if criteria.needs_sensitive:
        if sensitive is None or sensitive not in df.columns:
            raise ValueError("l-diversity and t-closeness need `sensitive`, a column of the table")
        sens_codes, sens_values = encode_sensitive(df[sensitive], criteria.t is not None and criteria.t_variant == "ordered")
    return Problem(columns, encoded, codes, sens_codes, sens_values, criteria, suppression_limit)


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


class _Search:
    def __init__(self, problem: Problem, quality: Quality) -> None:
        self.problem = problem
        self.quality = quality
        self.heights = np.array([h.height for h in problem.hierarchies], dtype=np.int64)
        dims = tuple(int(h) + 1 for h in self.heights)
        self.dims = dims
        n_nodes = int(np.prod(dims, dtype=object))
        if n_nodes > MAX_LATTICE_NODES:
            raise ValueError(f"the lattice has {n_nodes} nodes, more than the {MAX_LATTICE_NODES} this search "
                             "enumerates; use fewer levels or Mondrian")
        self.nodes = np.indices(dims, dtype=np.int64).reshape(len(dims), -1).T.copy()
        self.bound = quality.bounds(self.nodes)
        self.height = self.nodes.sum(axis=1)
        # tie-break order: lower height first, then lexicographic (= the enumeration order of ``nodes``)
        self.rank = self.height * len(self.nodes) + np.arange(len(self.nodes))
        # per column and level: which nodes are at least / at most that level, to mark up- and down-sets fast
        self._ge = [[self.nodes[:, j] >= v for v in range(d)] for j, d in enumerate(dims)]
        self._le = [[self.nodes[:, j] <= v for v in range(d)] for j, d in enumerate(dims)]
        self.strides = np.array([int(np.prod(dims[j + 1:], dtype=np.int64)) for j in range(len(dims))], dtype=np.int64)
        self._stride_list = [int(x) for x in self.strides]
        self._height_list = [int(x) for x in self.heights]
        self.status = np.zeros(len(self.nodes), dtype=np.int8)
        self.mstatus = np.zeros(len(self.nodes), dtype=np.int8)  # 1 anonymous, -1 not, 0 unknown
        self.scored = np.full(len(self.nodes), np.nan)
        self.max_out = problem.max_outliers
        self.monotone = problem.criteria.monotone(self.max_out)
        self.exact_is_bound = quality.exact_is_bound(self.max_out)
        self.q = problem.global_distribution
        self.grouper = Grouper(problem.hierarchies, problem.codes, problem.sensitive, problem.n_sensitive)
        self.best = -1
        self.best_score = math.inf

    def index(self, levels) -> int:
        return int(np.dot(levels, self.strides))

    def upset(self, levels) -> np.ndarray:
        mask = self._ge[0][levels[0]].copy()
        for j in range(1, len(levels)):
            mask &= self._ge[j][levels[j]]
        return mask

    def downset(self, levels) -> np.ndarray:
        mask = self._le[0][levels[0]].copy()
        for j in range(1, len(levels)):
            mask &= self._le[j][levels[j]]
        return mask

    def _offer(self, idx: int, score: float) -> None:
        self.scored[idx] = score
        if score < self.best_score or (score == self.best_score and self.rank[idx] < self.rank[self.best]):
            self.best, self.best_score = idx, score

    def _monotone_part_fails(self, table: ClassTable) -> bool:
        """The monotone part of the criteria (class sizes, distinct l) already breaks the budget."""
        c = self.problem.criteria
        fail = table.sizes < c.min_class_size
        if c.l is not None and c.l_variant == "distinct":
            fail |= np.bincount(table.cls, minlength=len(table.sizes)) < math.ceil(c.l)
        return float(table.sizes[fail].sum()) > self.max_out

    def check(self, idx: int) -> None:
        levels = self.nodes[idx]
        groups: NodeGroups = self.grouper.group(tuple(int(x) for x in levels))
        table = groups.table
        fail = failing_classes(table, self.problem.criteria, self.q)
        anonymous = float(table.sizes[fail].sum()) <= self.max_out
        refined = self.quality.refine(levels, table.sizes)
        if refined is not None:
            up = self.upset(levels)
            self.bound[up] = np.maximum(self.bound[up], refined)
        # ``mstatus`` tracks the monotone part of the criteria; for monotone criteria it is the whole
        mono_ok = anonymous or (not self.monotone and not self._monotone_part_fails(table))
        if mono_ok:
            self.mstatus[self.upset(levels) & (self.mstatus == 0)] = 1
        else:
            down = self.downset(levels)
            self.mstatus[down] = -1
            self.status[down] = -1
        if anonymous:
            self.status[idx] = 1
            if self.monotone:
                self.status[self.upset(levels) & (self.status == 0)] = 1
            exact = float(self.bound[idx]) if self.exact_is_bound else self.quality.score(levels, groups, fail)
            self._offer(idx, exact)
        else:
            self.status[idx] = -1

    def chain_from(self, idx: int) -> list[int]:
        """A path from the bottom to the top through ``idx``: down by the gentlest, up by the cheapest step."""
        bound = self.bound
        strides = self._stride_list
        heights = self._height_list
        start = [int(x) for x in self.nodes[idx]]
        up, cur, here = [], list(start), idx
        while True:
            options = [(bound[here + strides[j]], j) for j in range(len(cur)) if cur[j] < heights[j]]
            if not options:
                break
            _, j = min(options)
            cur[j] += 1
            here += strides[j]
            up.append(here)
        down, cur, here = [], list(start), idx
        while True:
            options = [(-bound[here - strides[j]], j) for j in range(len(cur)) if cur[j] > 0]
            if not options:
                break
            _, j = min(options)
            cur[j] -= 1
            here -= strides[j]
            down.append(here)
        return down[::-1] + [idx] + up

    def binary_search(self, idx: int) -> None:
        """Locate the frontier of the (monotone part of the) criteria on a bottom-to-top path through ``idx``."""
        chain = self.chain_from(idx)
        top = chain[-1]
        if self.mstatus[top] == 0:
            self.check(top)
        if self.mstatus[top] == -1:
            self.status[:] = -1  # nothing is anonymous if the most general node is not
            return
        while True:
            st = self.mstatus[chain]
            known_bad = np.flatnonzero(st == -1)
            known_good = np.flatnonzero(st == 1)
            lo = int(known_bad.max()) if len(known_bad) else -1
            hi = int(known_good.min())
            if hi - lo <= 1:
                return
            self.check(chain[(lo + hi) // 2])

    def run(self) -> None:
        # nodes that may still need work; the set only shrinks, so it is filtered rather than rebuilt
        active = np.arange(len(self.nodes))
        while True:
            active = active[(self.status[active] != -1) & np.isnan(self.scored[active])]
            if self.best >= 0:
                b = self.bound[active]
                active = active[(b < self.best_score) | ((b == self.best_score) &
                                                        (self.rank[active] < self.rank[self.best]))]
            if len(active) == 0:
                return
            b = self.bound[active]
            known = active[self.status[active] == 1]
            if len(known):
                # an inferred-anonymous node needs only scoring; take the most promising first
                kb = self.bound[known]
                tied = known[kb == kb.min()]
                idx = int(tied[np.argmin(self.rank[tied])])
            elif self.monotone or np.any(self.mstatus[active] == 0):
                # The most general unresolved node (then the one closest below the best): proving it not
                # anonymous prunes the largest down-set; a path through it finds the frontier near it.
                pool = active if self.monotone else active[self.mstatus[active] == 0]
                top = pool[self.height[pool] == self.height[pool].max()]
                idx = int(top[np.argmax(self.bound[top])])
            else:
                # non-monotone criteria: whatever passes the monotone part is checked one by one, best first
                tied = active[b == b.min()]
                idx = int(tied[np.argmin(self.rank[tied])])
            if self.status[idx] == 1:
                if self.exact_is_bound:
                    self._offer(idx, float(self.bound[idx]))
                else:
                    self.check(idx)
            elif self.mstatus[idx] == 0:
                self.binary_search(idx)
            else:
                self.check(idx)


def _neighbour_report(problem: Problem, quality: Quality, levels: np.ndarray, grouper: Grouper) -> list[dict]:
    """What every lower neighbour of the chosen node fails (or that it scores no better)."""
    out = []
    c = problem.criteria
    q = problem.global_distribution
    for j, col in enumerate(problem.columns):
        if levels[j] == 0:
            continue
        lower = levels.copy()
        lower[j] -= 1
        groups = grouper.group(tuple(int(x) for x in lower))
        table = groups.table
        fail = failing_classes(table, c, q)
        suppressed = int(table.sizes[fail].sum())
        entry = {"column": col, "levels": {n: int(v) for n, v in zip(problem.columns, lower)},
                 "rows_to_suppress": suppressed, "suppression_budget": problem.max_outliers,
                 "satisfies": suppressed <= problem.max_outliers}
        reasons = {}
        if c.min_class_size > 1:
            small = table.sizes < c.min_class_size
            reasons["min_class_size"] = {"classes": int(small.sum()), "rows": int(table.sizes[small].sum())}
        for name, crit in (("l", Criteria(l=c.l, l_variant=c.l_variant) if c.l is not None else None),
                           ("t", Criteria(t=c.t, t_variant=c.t_variant) if c.t is not None else None)):
            if crit is not None:
                f = failing_classes(table, crit, q)
                reasons[name] = {"classes": int(f.sum()), "rows": int(table.sizes[f].sum())}
        entry["failing"] = reasons
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
    model = make_quality(quality, problem.hierarchies, problem.codes, problem.n_rows)
    search = _Search(problem, model)
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
        suppressed=int(mask.sum()),
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
    model = make_quality(quality, problem.hierarchies, problem.codes, problem.n_rows)
    groups = Grouper(problem.hierarchies, problem.codes, problem.sensitive, problem.n_sensitive).group(
        tuple(int(x) for x in lv))
    fail = failing_classes(groups.table, problem.criteria, problem.global_distribution)
    suppressed = int(groups.table.sizes[fail].sum())
    return model.score(lv, groups, fail), suppressed, suppressed <= problem.max_outliers


def optimal(df: pd.DataFrame, hierarchies: Mapping[str, HierarchyLike], *, k: int | None = None,
            l: float | None = None, l_variant: str = "distinct", sensitive: str | None = None,
            t: float | None = None, suppression_limit: float = 0.0, quality: str = "loss",
            t_variant: str = "equal") -> OptimalResult:
    """The globally optimal full-domain generalisation of ``df`` meeting the criteria.

    ``hierarchies`` maps each quasi-identifier (in this order) to a hierarchy frame or an ARX CSV path.
    Criteria combine freely: ``k``; ``l`` with ``l_variant`` "distinct" or "entropy"; ``t`` with ``t_variant``
    "equal" (categorical) or "ordered" (numeric) earth mover's distance; ``l``/``t`` need ``sensitive``.
    Rows of classes failing the criteria are suppressed while they fit ``floor(suppression_limit * rows)``.
    ``quality`` is one of "loss", "nu_entropy", "discernibility", "aecs", "precision", "height" (lower is
    better, as ARX defines them).
    """
    criteria = Criteria(k=k, l=l, l_variant=l_variant, t=t, t_variant=t_variant)
    problem = encode_problem(df, hierarchies, criteria, sensitive, suppression_limit)
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
