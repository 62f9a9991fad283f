"""Worst geographic failure: the disk of radius r that does the most damage.

Method: branch and bound over square cells of candidate centres. Damage is monotone (a
bigger disk destroys a superset, so never less damage), hence for a cell of centre c and
half-side h every disk centred in the cell lies inside the disk D(c, r + h*sqrt(2)):

- lower bound of the cell: damage of D(c, r) (a real disk, reported if best);
- upper bound of the cell: damage of D(c, r + h*sqrt(2)).

Cells are explored best upper bound first and split in four until their upper bound cannot
beat the best disk found or their half-side drops below the tolerance. The result states
``value`` (achieved by the reported disk) and ``upper_bound`` (no disk of radius r does more
damage). When both are equal the disk is proven optimal; otherwise the gap is due to
centres within ``tolerance`` of each other, or to the evaluation budget. Every evaluation is
exact (elements hit found with an STR-tree, core reachability by connected components).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterable

import networkx as nx
import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from shapely.geometry import Point

from recor.config import NetworkSettings
from recor.network._index import GraphIndex, graph_index
from recor.network.graph import graph_version
from recor.network.model import DiskFailure, Provenance
from recor.network.redundancy import core_sites

__all__ = ["METRICS", "worst_disk_failure"]

#: What a disk failure is measured by.
METRICS = ("sites", "fibre_km")

_Damage = tuple[float, np.ndarray, np.ndarray, float]


def worst_disk_failure(
    graph: nx.MultiGraph,
    radius_m: float,
    *,
    metric: str = "sites",
    core: Iterable[str] | None = None,
    settings: NetworkSettings | None = None,
) -> DiskFailure:
    """Find the disk of radius ``radius_m`` whose failure does the most damage.

    Parameters
    ----------
    graph
        Network graph.
    radius_m
        Disaster radius in metres (EPSG:2154).
    metric
        ``"sites"``: non-passive sites that lose the core (destroyed or cut off);
        ``"fibre_km"``: fibre-km of segments destroyed or with both ends cut off.
    core
        Core site codes; default: sites of a core kind.
    settings
        ``disk_tolerance_m``, ``disk_max_evaluations``, core and passive kinds.

    Returns
    -------
    DiskFailure
    """
    if metric not in METRICS:
        raise ValueError(f"metric {metric!r}: expected one of {METRICS}")
    if not radius_m > 0:
        raise ValueError(f"radius_m {radius_m!r}: expected a disk radius of more than 0 m")
    settings = settings or NetworkSettings()
    index = graph_index(graph)
    core_ids = np.asarray(
        [index.node_id[c] for c in core_sites(graph, core, settings)], dtype=np.int64
    )
    judge = _Judge(index, core_ids, metric, settings)
    best, upper, evaluations = _branch_and_bound(judge, radius_m, settings)
    (value, dead_n, dead_e, fibre_km), centre = best
    params = {
        "radius_m": radius_m,
        "metric": metric,
        "tolerance_m": settings.disk_tolerance_m,
        "max_evaluations": settings.disk_max_evaluations,
    }
    return DiskFailure(
        centre=Point(centre),
        radius_m=radius_m,
        metric=metric,
        value=value,
        upper_bound=max(upper, value),
        proven_optimal=upper <= value,
        sites_lost=judge.lost_codes(dead_n, dead_e),
        segments_hit=tuple(sorted(index.edges[e] for e in dead_e)),
        fibre_km_lost=fibre_km,
        unknown_count_km_lost=judge.unknown_count_km(dead_n, dead_e),
        evaluations=evaluations,
        method="branch and bound over disk centres with monotone bounds (see recor.network.disk)",
        provenance=Provenance(graph_version(graph), params),
    )


class _Judge:
    """Exact, memoised damage of a disk."""

    def __init__(
        self, index: GraphIndex, core: np.ndarray, metric: str, settings: NetworkSettings
    ) -> None:
        self.index = index
        self.core = core
        self.metric = metric
        self.counted = ~np.isin(index.kind.astype(str), list(settings.passive_kinds))
        self.segment_tree = shapely.STRtree(index.edge_geom)
        self.site_tree = cKDTree(index.xy)
        # unknown fibre counts are left out of fibre-km and reported apart (unknown_count_km)
        self.fibre_km = np.nan_to_num(index.fibres) * index.length / 1000.0
        self.loss = CertifiedLoss(index, core)
        self.memo: dict[tuple[bytes, bytes], _Damage] = {}
        self.evaluations = 0

    def damage(self, centre: tuple[float, float], radius: float) -> _Damage:
        point = Point(centre)
        edges = np.sort(self.segment_tree.query(point, predicate="dwithin", distance=radius))
        nodes = np.sort(np.asarray(self.site_tree.query_ball_point(centre, r=radius), np.int64))
        if not len(edges) and not len(nodes):
            return 0.0, _NONE, _NONE, 0.0
        key = (edges.tobytes(), nodes.tobytes())
        if key not in self.memo:
            self.evaluations += 1
            self.memo[key] = self._evaluate(edges.astype(np.int64), nodes)
        return self.memo[key]

    def _evaluate(self, edges: np.ndarray, nodes: np.ndarray) -> _Damage:
        lost, hit = self.loss.lost_and_hit(edges, nodes)
        fibre_km = float(self.fibre_km[hit].sum())
        value = float(self.counted[lost].sum()) if self.metric == "sites" else fibre_km
        return value, nodes, edges, fibre_km

    def unknown_count_km(self, nodes: np.ndarray, edges: np.ndarray) -> float:
        """Km of the segments a disk takes whose fibre count is unknown."""
        _, hit = self.loss.lost_and_hit(edges, nodes)
        unknown = hit[np.isnan(self.index.fibres[hit])]
        return float(self.index.length[unknown].sum() / 1000.0)

    def lost_codes(self, nodes: np.ndarray, edges: np.ndarray) -> tuple[str, ...]:
        lost, _ = self.loss.lost_and_hit(edges, nodes)
        return tuple(sorted(self.index.nodes[v] for v in lost.tolist()))


_NONE = np.empty(0, dtype=np.int64)


class CertifiedLoss:
    """Sites a failure cuts off the core, and segments it takes, without relabelling the
    whole network.

    A breadth-first tree from the core certifies most sites: a site whose tree path to
    the core avoids every failed element still reaches the core. The others are the tree
    descendants of failed elements, runs of a depth-first numbering. An uncertified site
    keeps the core exactly when its part of the damaged network, restricted to
    uncertified sites, has a living segment to a certified site; so only the sites behind
    the failure and their segments are looked at. Exact; the cost grows with the sites
    behind the failure, not with the network.
    """

    def __init__(self, index: GraphIndex, core: np.ndarray) -> None:
        self.index = index
        n, root = index.n, index.n
        # the network's compiled twin plus a root joined to every core site (a C copy)
        forest = index.ig.copy()
        forest.add_vertices(1)
        forest.add_edges([(root, int(c)) for c in np.unique(core)])
        order, layers, parents = forest.bfs(root)
        order = np.asarray(order, dtype=np.int64)
        parent = np.full(n + 1, -1, dtype=np.int64)
        parent[order[1:]] = np.asarray(parents, dtype=np.int64)[order[1:]]
        kids = order[1:]
        inner = kids[parent[kids] != root]
        # the segment each site hangs from in the tree (-1 for core sites, unreached ones)
        hang = np.full(n, -1, dtype=np.int64)
        if len(inner):
            pairs = np.column_stack([parent[inner], inner]).tolist()
            hang[inner] = np.asarray(index.ig.get_eids(pairs), dtype=np.int64)
        self.child_of_edge = np.full(index.m, -1, dtype=np.int64)
        hung = np.flatnonzero(hang >= 0)
        self.child_of_edge[hang[hung]] = hung
        levels = [order[start:stop] for start, stop in itertools.pairwise(layers[1:])]
        self.preorder, tin, size = _preorder(parent, root, levels, len(order))
        self.tin, self.tout = tin[:n], tin[:n] + size[:n]
        self.reached = self.tin >= 0
        ends = np.concatenate([index.src, index.dst])
        by_end = np.argsort(ends, kind="stable")
        self.start = np.concatenate([[0], np.cumsum(np.bincount(ends, minlength=n))])
        self.other = np.concatenate([index.dst, index.src])[by_end]
        self.incident = np.concatenate([np.arange(index.m), np.arange(index.m)])[by_end]
        # scratch masks, cleared after each use: allocating them per evaluation cost more
        # than the evaluation itself
        self._dead_node = np.zeros(n, dtype=bool)
        self._dead_edge = np.zeros(index.m, dtype=bool)
        self._inside = np.zeros(n, dtype=bool)
        self._gone = np.zeros(n, dtype=bool)
        self._local = np.zeros(n, dtype=np.int64)

    def lost_and_hit(self, edges: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ids of the sites that reached the core before and not after (destroyed ones
        included), and of the segments destroyed or with both ends lost."""
        dead_node, dead_edge, inside = self._dead_node, self._dead_edge, self._inside
        dead_node[nodes] = True
        dead_edge[edges] = True
        destroyed = nodes[self.reached[nodes]]
        behind = self._behind(edges, destroyed)
        behind = behind[~dead_node[behind]]
        owner, other, edge = self._around(behind)
        inside[behind] = True
        living = ~dead_edge[edge] & ~dead_node[other]
        local = self._local
        local[behind] = np.arange(len(behind))
        pairs = living & inside[other]
        # rows in order already (the incidences come site by site): straight to CSR
        rows = local[owner[pairs]]
        indptr = np.zeros(len(behind) + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=len(behind)), out=indptr[1:])
        labels = connected_components(
            sp.csr_matrix(
                (np.ones(len(rows), np.int8), local[other[pairs]], indptr),
                shape=(len(behind), len(behind)),
            ),
            directed=False,
        )[1]
        # a living segment to a certified site (reached, not behind, not destroyed) saves
        # the whole part it leaves from
        exits = living & ~inside[other] & self.reached[other]
        inside[behind] = False
        dead_node[nodes] = False
        dead_edge[edges] = False
        saved = np.zeros(len(behind), dtype=bool)
        saved[labels[local[owner[exits]]]] = True
        lost = _sorted_union(behind[~saved[labels]], destroyed)
        gone = self._gone
        gone[lost] = True
        _, far, touching = self._around(lost)
        hit = _sorted_union(edges, touching[gone[far]])
        gone[lost] = False
        return lost, hit

    def _behind(self, edges: np.ndarray, destroyed: np.ndarray) -> np.ndarray:
        """Sites whose tree path to the core crosses a failed element (preorder runs)."""
        kids = self.child_of_edge[edges]
        cut = np.concatenate([destroyed, kids[kids >= 0]])
        if not len(cut):
            return np.empty(0, dtype=np.int64)
        # subtrees are runs of the preorder, nested or apart: keep the outermost ones
        first = np.sort(self.tin[cut])
        cut = self.preorder[first]
        last = self.tout[cut]
        outer = np.ones(len(cut), dtype=bool)
        outer[1:] = first[1:] >= np.maximum.accumulate(last)[:-1]
        first, counts = first[outer], last[outer] - first[outer]
        return self.preorder[_runs(first, counts)]

    def _around(self, sites: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every (site, neighbour, segment) incidence of the given sites."""
        first, last = self.start[sites], self.start[sites + 1]
        counts = last - first
        at = _runs(first, counts)
        return np.repeat(sites, counts), self.other[at], self.incident[at]


def _runs(first: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``first[i], first[i] + 1, ...`` (``counts[i]`` of them), one run after the other."""
    shift = np.repeat(first - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return shift + np.arange(int(counts.sum()))


def _sorted_union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.union1d`` of two small id arrays, without its hashing set-up."""
    both = np.concatenate([a, b])
    both.sort()
    keep = np.ones(len(both), dtype=bool)
    keep[1:] = both[1:] != both[:-1]
    return both[keep]


def _preorder(
    parent: np.ndarray, root: int, levels: list[np.ndarray], count: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Depth-first preorder of a tree given level by level: ``(order, position, size)``.

    Children are visited highest id first, as igraph's ``dfs`` visits them; positions and
    subtree sizes are -1 and 1 outside the tree.
    """
    size = np.ones(len(parent), dtype=np.int64)
    for level in reversed(levels):
        np.add.at(size, parent[level], size[level])
    kids = np.concatenate(levels) if levels else np.empty(0, dtype=np.int64)
    siblings = kids[np.lexsort((-kids, parent[kids]))]
    before = np.cumsum(size[siblings]) - size[siblings]
    new_parent = np.ones(len(siblings), dtype=bool)
    new_parent[1:] = parent[siblings][1:] != parent[siblings][:-1]
    group_start = np.maximum.accumulate(np.where(new_parent, np.arange(len(siblings)), 0))
    offset = np.zeros(len(parent), dtype=np.int64)
    offset[siblings] = before - before[group_start]
    position = np.full(len(parent), -1, dtype=np.int64)
    position[root] = 0
    for level in levels:
        position[level] = position[parent[level]] + 1 + offset[level]
    order = np.empty(count, dtype=np.int64)
    order[position[position >= 0]] = np.flatnonzero(position >= 0)
    return order, position, size


def _branch_and_bound(
    judge: _Judge, radius: float, settings: NetworkSettings
) -> tuple[tuple[_Damage, tuple[float, float]], float, int]:
    index = judge.index
    xy = np.vstack([index.xy, shapely.get_coordinates(index.edge_geom)])
    xmin, ymin = xy.min(axis=0) - radius
    xmax, ymax = xy.max(axis=0) + radius
    half = radius
    xs = np.arange(xmin + half, xmax + half, 2 * half)
    ys = np.arange(ymin + half, ymax + half, 2 * half)
    best: tuple[_Damage, tuple[float, float]] = (
        (0.0, _NONE, _NONE, 0.0),
        (float(xs[0]), float(ys[0])),
    )
    heap: list[tuple[float, float, float, float]] = []
    for x in xs.tolist():
        for y in ys.tolist():
            best = _push(judge, heap, best, (x, y), half, radius)
    upper_leftover = 0.0
    while heap:
        neg_ub, h, x, y = heapq.heappop(heap)
        if -neg_ub <= best[0][0]:
            break
        if h <= settings.disk_tolerance_m / 2 or judge.evaluations >= settings.disk_max_evaluations:
            upper_leftover = max(upper_leftover, -neg_ub)
            continue
        for dx in (-h / 2, h / 2):
            for dy in (-h / 2, h / 2):
                best = _push(judge, heap, best, (x + dx, y + dy), h / 2, radius)
    return best, upper_leftover, judge.evaluations


def _push(
    judge: _Judge,
    heap: list[tuple[float, float, float, float]],
    best: tuple[_Damage, tuple[float, float]],
    centre: tuple[float, float],
    half: float,
    radius: float,
) -> tuple[_Damage, tuple[float, float]]:
    upper = judge.damage(centre, radius + half * math.sqrt(2))[0]
    if upper <= best[0][0]:
        return best
    lower = judge.damage(centre, radius)
    if lower[0] > best[0][0]:
        best = (lower, centre)
    if upper > best[0][0]:
        heapq.heappush(heap, (-upper, half, centre[0], centre[1]))
    return best
