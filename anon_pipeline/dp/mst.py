"""MST (McKenna, Sheldon & Miklau 2021, "Winning the NIST Contest: A scalable and general approach to
differentially private synthetic data"), on integer-coded columns with a public domain.

Under zCDP with a total ``rho`` (one row added or removed is the neighbouring relation), split in thirds:
1. every 1-way marginal, with Gaussian noise (rho/3 shared evenly); cells whose noisy count is below 3 sigma are
   merged into one (domain compression, as in the reference implementation);
2. a maximum spanning tree over the columns, each edge chosen by the exponential mechanism (rho/3 over the d - 1
   choices), scoring a pair by the L1 distance between its true 2-way marginal and the independent estimate
   from step 1 (sensitivity 1);
3. the 2-way marginal of every tree edge, with Gaussian noise (rho/3 shared evenly).

Everything after is post-processing of noisy measurements: each column's marginal is the inverse-variance
average of its 1-way measurement and the sums of its edges' 2-way measurements; each edge's table is clipped at
zero and scaled (iterative proportional fitting) to those marginals, so the tree is a consistent model. Rows are
drawn root first, then each child given its parent. The model (``fit_mst``) is JSON and holds no row.

``refine`` (not in the paper) spends 2/5 of rho on a second parent per column (``_refine``); the three steps above
then get 1/5 each.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np

from anon_pipeline.dp.accounting import gaussian_sigma
from anon_pipeline.dp.mechanisms import gaussian_counts, noisy_max

_IPF_ITERATIONS = 20
#: A 3-way marginal larger than this is not a ``refine`` candidate: it would mostly measure noise and bloat the plan.
_MAX_REFINE_CELLS = 100_000


def _marginal(codes: np.ndarray, cols: tuple[int, ...], sizes: list[int]) -> np.ndarray:
    flat = np.zeros(len(codes), dtype=np.int64)
    for c in cols:
        flat = flat * sizes[c] + codes[:, c]
    return np.bincount(flat, minlength=int(np.prod([sizes[c] for c in cols]))).reshape([sizes[c] for c in cols])


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0, None)
    s = x.sum()
    return x / s if s > 0 else np.full(x.shape, 1.0 / x.size)


def _compress(noisy: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(kept codes, merged codes, noisy counts over the compressed domain: kept cells then one merged cell)."""
    keep = noisy >= 3 * sigma
    kept, merged = np.flatnonzero(keep), np.flatnonzero(~keep)
    counts = noisy[kept] if len(merged) == 0 else np.append(noisy[kept], noisy[merged].sum())
    return kept, merged, counts


def _spanning_tree(codes: np.ndarray, sizes: list[int], independent: list[np.ndarray], n_hat: float,
                   rho: float) -> list[tuple[int, int]]:
    d = len(sizes)
    scores = {}
    for a, b in combinations(range(d), 2):
        estimate = n_hat * np.outer(independent[a], independent[b])
        scores[a, b] = float(np.abs(_marginal(codes, (a, b), sizes) - estimate).sum())
    component = list(range(d))

    def root(i: int) -> int:
        while component[i] != i:
            i = component[i]
        return i

    edges: list[tuple[int, int]] = []
    for _ in range(d - 1):
        candidates = [e for e in scores if root(e[0]) != root(e[1])]
        a, b = candidates[noisy_max(np.array([scores[e] for e in candidates]), rho / (d - 1))]
        component[root(a)] = root(b)
        edges.append((a, b))
    return edges


def _ipf(table: np.ndarray, margins: list[tuple[tuple[int, ...], np.ndarray]]) -> np.ndarray:
    """Iterative proportional fitting: scale ``table`` until its sum onto each ``axes`` matches that target."""
    for _ in range(_IPF_ITERATIONS):
        for axes, target in margins:
            other = tuple(i for i in range(table.ndim) if i not in axes)
            s = table.sum(axis=other, keepdims=True)
            table = table * np.divide(np.expand_dims(target, other), s, out=np.zeros_like(s, dtype=float),
                                      where=s > 0)
    return table


def fit_mst(codes: np.ndarray, sizes: list[int], rho: float, refine: bool = False) -> dict[str, Any]:
    """The noisy tree model of ``codes`` (rows x columns, column j in range(sizes[j])), rho-zCDP. With ``refine``
    (and at least three columns), 2/5 of rho go to a second parent per column (``_refine``)."""
    d = len(sizes)
    refine = refine and d >= 3
    rho_part = rho if d == 1 else rho / 3 * (0.6 if refine else 1.0)
    sigma1 = 0.0
    kept, merged, one_way = [], [], []
    for j in range(d):
        noisy, sigma1 = gaussian_counts(_marginal(codes, (j,), sizes), rho_part / d)
        k, m, counts = _compress(noisy, sigma1)
        kept.append(k)
        merged.append({"codes": m.tolist(), "probs": _normalise(noisy[m]).tolist() if len(m) else []})
        one_way.append(counts)
    small = [len(c) for c in one_way]
    recode = []
    for j in range(d):
        mapping = np.full(sizes[j], len(kept[j]), dtype=np.int64)   # merged cells -> the last code
        mapping[kept[j]] = np.arange(len(kept[j]))
        recode.append(mapping[codes[:, j]])
    small_codes = np.column_stack(recode)
    # Each column's total estimates n: inverse-variance weights (a total over m cells has variance m sigma^2).
    totals = np.array([c.sum() for c in one_way])
    weights = 1.0 / np.array([sizes[j] for j in range(d)], dtype=float)
    n_hat = max(1.0, float((totals * weights).sum() / weights.sum()))
    independent = [_normalise(c) for c in one_way]

    edges = _spanning_tree(small_codes, small, independent, n_hat, rho_part) if d > 1 else []
    two_way, sigma2 = {}, 0.0
    for a, b in edges:
        two_way[a, b], sigma2 = gaussian_counts(_marginal(small_codes, (a, b), small), rho_part / len(edges))

    # Inverse-variance average of every measurement of each column's marginal (per cell).
    num = [c / sigma1**2 for c in one_way]
    den = [np.full(len(c), 1 / sigma1**2) for c in one_way]
    for j in range(d):
        if len(merged[j]["codes"]):   # the merged cell is a sum of several noisy cells
            num[j][-1] /= len(merged[j]["codes"])
            den[j][-1] /= len(merged[j]["codes"])
    for (a, b), table in two_way.items():
        for j, other, sums in ((a, b, table.sum(1)), (b, a, table.sum(0))):
            var = small[other] * sigma2**2
            num[j] = num[j] + sums / var
            den[j] = den[j] + 1 / var
    marginals = [_normalise(num[j] / den[j]) for j in range(d)]

    order, conditionals = _orient(edges, d), {}
    for child, parent in order[1:]:
        assert parent is not None  # only the root, order[0], has none
        table = two_way[(parent, child)] if (parent, child) in two_way else two_way[(child, parent)].T
        joint = _ipf(np.clip(table, 0, None), [((0,), marginals[parent] * n_hat), ((1,), marginals[child] * n_hat)])
        s = joint.sum(1, keepdims=True)
        cond = np.where(s > 0, joint / np.where(s > 0, s, 1), marginals[child][None, :])
        conditionals[str(child)] = cond.tolist()
    model = {"n_hat": n_hat, "sigma_1way": sigma1, "sigma_2way": sigma2, "edges": [list(e) for e in edges],
             "order": [[c, p] for c, p in order], "root": marginals[order[0][0]].tolist(),
             "conditionals": conditionals, "kept": [k.tolist() for k in kept], "merged": merged, "second_parents": {}}
    if refine:
        model.update(_refine(small_codes, small, model, rho * 0.2, rho * 0.2))
    return model


def _refine(codes: np.ndarray, sizes: list[int], model: dict[str, Any], rho_select: float,
            rho_measure: float) -> dict[str, Any]:
    """A second parent for up to d - 2 columns, chosen as AIM (McKenna et al. 2022) chooses marginals: each choice
    by the exponential mechanism over the 3-way marginals (column, tree parent, an earlier column), scored by how
    far the tree model's estimate is from the true marginal (L1, sensitivity 1) minus the L1 the measurement's
    noise is expected to add (sqrt(2/pi) sigma per cell, data-independent). The chosen 3-way marginals are then
    measured with Gaussian noise; a column's conditional given both parents shrinks to its tree conditional where
    the noisy counts are small (a pseudo-count of one sigma per cell)."""
    order = model["order"]
    position = {c: i for i, (c, _) in enumerate(order)}
    rounds = len(sizes) - 2
    sigma3 = gaussian_sigma(rho_measure / rounds)
    # The tree model's 3-way estimates, from a large sample of it (post-processing: it depends on noisy data only).
    sample = _sample_small(model, 200_000, np.random.default_rng())
    scale = model["n_hat"] / len(sample)
    candidates = {}
    for child, parent in order[1:]:
        for q, _ in order[:position[child]]:
            cols = (parent, q, child)
            if q != parent and np.prod([sizes[c] for c in cols]) <= _MAX_REFINE_CELLS:
                penalty = np.sqrt(2 / np.pi) * sigma3 * np.prod([sizes[c] for c in cols])
                error = np.abs(_marginal(codes, cols, sizes) - scale * _marginal(sample, cols, sizes)).sum()
                candidates[child, q] = float(error - penalty)
    chosen: dict[int, int] = {}
    for _ in range(rounds):
        open_ = [k for k in candidates if k[0] not in chosen]
        if not open_:
            break
        child, q = open_[noisy_max(np.array([candidates[k] for k in open_]), rho_select / rounds)]
        chosen[child] = q
    second = {}
    for child, q in chosen.items():
        parent = order[position[child]][1]
        noisy, sigma3 = gaussian_counts(_marginal(codes, (parent, q, child), sizes), rho_measure / len(chosen))
        # Clipping adds mass to empty cells; scaling to the tree model's (parent, q) and (parent, child)
        # marginals takes it back out while keeping the 3-way interaction the measurement saw.
        table = _ipf(np.clip(noisy, 0, None), [((0, 1), scale * _marginal(sample, (parent, q), sizes)),
                                               ((0, 2), scale * _marginal(sample, (parent, child), sizes))])
        prior = np.asarray(model["conditionals"][str(child)])[:, None, :]        # P(child | parent), per q
        counts = table + sigma3 * prior
        second[str(child)] = {"parent": q, "table": (counts / counts.sum(-1, keepdims=True)).tolist()}
    return {"second_parents": second, "sigma_3way": sigma3}


def _orient(edges: list[tuple[int, int]], d: int) -> list[tuple[int, int | None]]:
    """(child, parent) in breadth-first order from column 0; the root's parent is None."""
    neighbours: dict[int, list[int]] = {j: [] for j in range(d)}
    for a, b in edges:
        neighbours[a].append(b)
        neighbours[b].append(a)
    order: list[tuple[int, int | None]] = [(0, None)]
    seen = {0}
    for child, _ in order:
        for nb in neighbours[child]:
            if nb not in seen:
                seen.add(nb)
                order.append((nb, child))
    return order


def _draw(probs: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draws: row i of ``probs`` (or the one vector) with the uniform ``u[i]``."""
    cdf = np.cumsum(probs, axis=-1)
    cdf = cdf / cdf[..., -1:]
    if cdf.ndim == 1:
        return np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1)
    return np.minimum((u[:, None] >= cdf).sum(1), cdf.shape[1] - 1)


def _sample_small(model: dict[str, Any], n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` rows of codes in the compressed domains, root first, each column given its parent(s)."""
    small = np.zeros((n, len(model["kept"])), dtype=np.int64)
    root = model["order"][0][0]
    small[:, root] = _draw(np.asarray(model["root"]), rng.random(n))
    for child, parent in model["order"][1:]:
        second = model["second_parents"].get(str(child))
        if second is None:
            probs = np.asarray(model["conditionals"][str(child)])[small[:, parent]]
        else:
            probs = np.asarray(second["table"])[small[:, parent], small[:, second["parent"]]]
        small[:, child] = _draw(probs, rng.random(n))
    return small


def sample_mst(model: dict[str, Any], n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` rows of codes (in the original, uncompressed domains) drawn from a fitted model."""
    d = len(model["kept"])
    small = _sample_small(model, n, rng)
    out = np.zeros_like(small)
    for j in range(d):
        kept = np.asarray(model["kept"][j], dtype=np.int64)
        in_kept = small[:, j] < len(kept)
        out[in_kept, j] = kept[small[in_kept, j]]
        rest = ~in_kept
        if rest.any():
            merged = model["merged"][j]
            out[rest, j] = np.asarray(merged["codes"])[_draw(np.asarray(merged["probs"]), rng.random(int(rest.sum())))]
    return out
