"""The arc-level min-cost flow that recor.network._flow replaced, kept as a test oracle.

It materialises every arc of the flow network (2.2 million at 200,000 segments with
split sites) and runs the same successive shortest paths: the compiled pair-level flow
must return the very same two paths, arc ties included.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from recor.network._index import GraphIndex

__all__ = ["two_unit_flow"]

Path = tuple[list[int], list[int], float]

#: scipy ignores explicit zeros: a zero reduced cost becomes this (metres, negligible)
_FLOOR = 1e-9


@dataclass
class _Arcs:
    """Static arcs: ``tail``, ``head``, ``edge`` (-1 for a site's own arcs), ``penalty``;
    arc ``2i`` is forward, ``2i + 1`` its residual. ``order`` sorts arcs by (tail, head);
    pair ``j`` of the CSR pattern (``indptr``, ``indices``) holds ``order[span[j]:span[j+1]]``.
    """

    size: int
    tail: np.ndarray
    head: np.ndarray
    edge: np.ndarray
    penalty: np.ndarray
    order: np.ndarray
    span: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray


def two_unit_flow(
    index: GraphIndex, s: int, t: int, weights: np.ndarray, *, node_disjoint: bool
) -> tuple[Path, Path] | None:
    """Min-cost flow of two units from ``s`` to ``t``; the two paths, or None if no route.

    ``weights`` has one cost per segment, ``inf`` where forbidden.
    """
    arcs = _arcs(index, node_disjoint)
    finite = np.isfinite(weights)
    price = 2.0 * float(weights[finite].sum()) + 1.0
    forward = np.where(arcs.edge[0::2] >= 0, weights[np.maximum(arcs.edge[0::2], 0)], 0.0)
    forward = forward + np.where(arcs.penalty[0::2], price, 0.0)
    cost = np.empty(len(arcs.tail))
    cost[0::2], cost[1::2] = forward, -forward
    cap = np.zeros(len(arcs.tail), dtype=np.int8)
    cap[0::2] = np.isfinite(forward)
    cost[~np.isfinite(cost)] = math.inf
    source = 2 * s + 1 if node_disjoint else s
    sink = 2 * t if node_disjoint else t
    potential = np.zeros(arcs.size)
    # a path using an unusable arc costs at least this much: it means "no path"
    unusable = 1e3 * price * (arcs.size + 1)
    for _ in range(2):
        path = _augmenting_path(arcs, cost, cap, potential, source, sink, unusable)
        if path is None:
            return None
        cap[path] -= 1
        cap[np.asarray(path) ^ 1] += 1
    return _decompose(arcs, cap, weights, source, sink, s, t, node_disjoint)


def _augmenting_path(
    arcs: _Arcs,
    cost: np.ndarray,
    cap: np.ndarray,
    potential: np.ndarray,
    source: int,
    sink: int,
    unusable: float,
) -> list[int] | None:
    """Cheapest residual path under reduced costs (arc ids); updates the potentials."""
    if potential.any():
        cost = cost + potential[arcs.tail] - potential[arcs.head]
    # (the first search has no potentials yet: two gathers of every arc saved)
    reduced = np.where(cap > 0, np.maximum(cost, 0.0), math.inf)
    cheapest = np.minimum.reduceat(reduced[arcs.order], arcs.span[:-1])
    data = np.where(np.isfinite(cheapest), np.maximum(cheapest, _FLOOR), unusable)
    matrix = sp.csr_matrix((data, arcs.indices, arcs.indptr), shape=(arcs.size, arcs.size))
    dist, pred = dijkstra(matrix, directed=True, indices=source, return_predecessors=True)
    if not dist[sink] < unusable:
        return None
    potential += np.minimum(dist, dist[sink])
    path, v = [], sink
    while v != source:
        p = int(pred[v])
        start, stop = arcs.indptr[p], arcs.indptr[p + 1]
        j = start + int(np.searchsorted(arcs.indices[start:stop], v))
        members = arcs.order[arcs.span[j] : arcs.span[j + 1]]
        path.append(int(members[np.argmin(reduced[members])]))
        v = p
    return path[::-1]


def _decompose(
    arcs: _Arcs,
    cap: np.ndarray,
    weights: np.ndarray,
    source: int,
    sink: int,
    s: int,
    t: int,
    split: bool,
) -> tuple[Path, Path]:
    """The two unit paths carried by the flow, as site/segment ids."""
    used = (np.flatnonzero(cap[0::2] == 0) * 2).tolist()
    usable = np.isfinite(weights)
    flow: dict[int, list[int]] = {}
    for arc in used:
        e = int(arcs.edge[arc])
        if e >= 0 and not usable[e]:
            continue  # never usable: saturated from the start, carries no flow
        flow.setdefault(int(arcs.tail[arc]), []).append(arc)
    if not split:
        _cancel_opposite(arcs, flow)
    paths = []
    for _ in range(2):
        nodes, edges, v = [s], [], source
        while v != sink:
            arc = flow[v].pop()
            v = int(arcs.head[arc])
            if arcs.edge[arc] >= 0:
                edges.append(int(arcs.edge[arc]))
                nodes.append(v // 2 if split else v)
        if nodes[-1] != t:
            nodes.append(t)
        paths.append((nodes, edges, float(weights[edges].sum())))
    return paths[0], paths[1]


def _cancel_opposite(arcs: _Arcs, flow: dict[int, list[int]]) -> None:
    """Flow both ways along one segment cancels out (edge-disjoint network only)."""
    by_edge: dict[int, list[int]] = {}
    for out in flow.values():
        for arc in out:
            by_edge.setdefault(int(arcs.edge[arc]), []).append(arc)
    for pair in by_edge.values():
        if len(pair) == 2 and len({int(arcs.head[a]) for a in pair}) == 2:
            for arc in pair:
                flow[int(arcs.tail[arc])].remove(arc)


def _arcs(index: GraphIndex, split: bool) -> _Arcs:
    return _build_arcs(index, split)


def _build_arcs(index: GraphIndex, split: bool) -> _Arcs:
    n = index.n
    live = np.flatnonzero(index.src != index.dst)
    a, b = index.src[live], index.dst[live]
    if split:
        tails = [2 * a + 1, 2 * b + 1]
        heads = [2 * b, 2 * a]
    else:
        tails, heads = [a, b], [b, a]
    f_tail = np.concatenate([*tails, *tails])
    f_head = np.concatenate([*heads, *heads])
    f_edge = np.concatenate([live, live, live, live])
    f_pen = np.repeat([False, True], 2 * len(live))
    if split:
        sites = np.arange(n)
        f_tail = np.concatenate([2 * sites, 2 * sites, f_tail])
        f_head = np.concatenate([2 * sites + 1, 2 * sites + 1, f_head])
        f_edge = np.concatenate([np.full(2 * n, -1), f_edge])
        f_pen = np.concatenate([np.repeat([False, True], n), f_pen])
    size = 2 * n if split else n
    count = 2 * len(f_tail)
    tail, head = np.empty(count, np.int64), np.empty(count, np.int64)
    tail[0::2], tail[1::2] = f_tail, f_head
    head[0::2], head[1::2] = f_head, f_tail
    edge, penalty = np.repeat(f_edge, 2), np.repeat(f_pen, 2)
    order = np.lexsort((head, tail))
    t_sorted, h_sorted = tail[order], head[order]
    first = np.ones(count, dtype=bool)
    first[1:] = (t_sorted[1:] != t_sorted[:-1]) | (h_sorted[1:] != h_sorted[:-1])
    starts = np.flatnonzero(first)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(t_sorted[starts], minlength=size))])
    return _Arcs(
        size=size,
        tail=tail,
        head=head,
        edge=edge,
        penalty=penalty,
        order=order,
        span=np.concatenate([starts, [count]]),
        indptr=indptr,
        indices=h_sorted[starts],
    )
