"""The lattice search: the globally optimal node under a quality model, pruned by monotonicity and bounds.

In the spirit of ARX's Flash. Every node's quality has a lower bound computed for the whole lattice at once.
With monotone criteria the search repeatedly takes the most general unresolved node that could still beat
the best found, lays a bottom-to-top path through it and binary-searches the path for the frontier, so each
check settles whole down-sets (not anonymous) or up-sets (anonymous). With criteria that are not monotone
(entropy l-diversity or t-closeness with suppression) the same paths run on their monotone part (each model's
``necessary_failing``: class sizes, distinct values), and what passes it is checked node by node, best bound
first. The search stops when no unresolved node can beat the best anonymous node found; ties go to the lower sum
of levels, then lexicographic order.
"""

from __future__ import annotations

import math

import numpy as np

from anon_pipeline.search.criteria import ClassTable
from anon_pipeline.search.grouping import Grouper, NodeGroups
from anon_pipeline.search.problem import Problem
from anon_pipeline.search.quality import Quality

MAX_LATTICE_NODES = 5_000_000


class LatticeSearch:
    """One search over one encoded problem; ``run`` leaves the optimum in ``best`` / ``best_score``."""

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
        self.grouper = Grouper(problem.hierarchies, problem.codes, problem.sensitive, problem.n_sensitive,
                               weights=problem.weights)
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
        """The monotone part of the criteria (e.g. class sizes, distinct values) already breaks the budget."""
        fail = self.problem.criteria.monotone_part_failing(table)
        return float(table.sizes[fail].sum()) > self.max_out

    def check(self, idx: int) -> None:
        levels = self.nodes[idx]
        groups: NodeGroups = self.grouper.group(tuple(int(x) for x in levels))
        table = groups.table
        fail = self.problem.criteria.failing(table)
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


