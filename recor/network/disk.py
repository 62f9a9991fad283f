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
import math
from collections.abc import Iterable

import igraph as ig
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
        forest = ig.Graph(n=n + 1, edges=np.column_stack([index.src, index.dst]).tolist())
        forest.add_edges([(root, int(c)) for c in np.unique(core)])
        order, _, parents = forest.bfs(root)
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
        tree = ig.Graph(
            n=n + 1, edges=np.column_stack([parent[kids], kids]).tolist(), directed=True
        )
        self.preorder = np.asarray(tree.dfs(root, mode="out")[0], dtype=np.int64)
        size = np.ones(n + 1, dtype=np.int64)
        for v in reversed(kids.tolist()):  # children before parents: sizes bottom-up
            size[parent[v]] += size[v]
        tin = np.full(n + 1, -1, dtype=np.int64)
        tin[self.preorder] = np.arange(len(self.preorder))
        self.tin, self.tout = tin[:n], tin[:n] + size[:n]
        self.reached = self.tin >= 0
        ends = np.concatenate([index.src, index.dst])
        by_end = np.argsort(ends, kind="stable")
        self.start = np.concatenate([[0], np.cumsum(np.bincount(ends, minlength=n))])
        self.other = np.concatenate([index.dst, index.src])[by_end]
        self.incident = np.concatenate([np.arange(index.m), np.arange(index.m)])[by_end]

    def lost_and_hit(self, edges: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ids of the sites that reached the core before and not after (destroyed ones
        included), and of the segments destroyed or with both ends lost."""
        n = self.index.n
        dead_node = np.zeros(n, dtype=bool)
        dead_node[nodes] = True
        dead_edge = np.zeros(self.index.m, dtype=bool)
        dead_edge[edges] = True
        destroyed = nodes[self.reached[nodes]]
        behind = self._behind(edges, destroyed)
        behind = behind[~dead_node[behind]]
        owner, other, edge = self._around(behind)
        inside = np.zeros(n, dtype=bool)
        inside[behind] = True
        living = ~dead_edge[edge] & ~dead_node[other]
        local = np.full(n, -1, dtype=np.int64)
        local[behind] = np.arange(len(behind))
        pairs = living & inside[other]
        labels = connected_components(
            sp.csr_matrix(
                (np.ones(int(pairs.sum()), np.int8), (local[owner[pairs]], local[other[pairs]])),
                shape=(len(behind), len(behind)),
            ),
            directed=False,
        )[1]
        # a living segment to a certified site (reached, not behind, not destroyed) saves
        # the whole part it leaves from
        exits = living & ~inside[other] & self.reached[other]
        saved = np.zeros(len(behind), dtype=bool)
        saved[labels[local[owner[exits]]]] = True
        lost = np.union1d(behind[~saved[labels]], destroyed)
        gone = np.zeros(n, dtype=bool)
        gone[lost] = True
        _, far, touching = self._around(lost)
        return lost, np.union1d(edges, touching[gone[far]])

    def _behind(self, edges: np.ndarray, destroyed: np.ndarray) -> np.ndarray:
        """Sites whose tree path to the core crosses a failed element (preorder runs)."""
        kids = self.child_of_edge[edges]
        cut = np.concatenate([destroyed, kids[kids >= 0]])
        if not len(cut):
            return np.empty(0, dtype=np.int64)
        steps = np.zeros(len(self.preorder) + 1, dtype=np.int64)
        np.add.at(steps, self.tin[cut], 1)
        np.add.at(steps, self.tout[cut], -1)
        return self.preorder[np.cumsum(steps[:-1]) > 0]

    def _around(self, sites: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every (site, neighbour, segment) incidence of the given sites."""
        first, last = self.start[sites], self.start[sites + 1]
        counts = last - first
        shift = np.repeat(first - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
        at = shift + np.arange(int(counts.sum()))
        return np.repeat(sites, counts), self.other[at], self.incident[at]


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
