"""Routes between two sites: shortest, k shortest (multigraph-aware), under constraints."""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from recor.errors import NotFound
from recor.network._index import GraphIndex, graph_index
from recor.network.graph import graph_version, resolve_site
from recor.network.model import Provenance, Route

__all__ = [
    "CostModel",
    "RouteConstraints",
    "Weight",
    "k_shortest_paths",
    "make_route",
    "shortest_path",
    "unknown_free_segments",
    "why_no_route",
]


@dataclass(frozen=True)
class CostModel:
    """Cost of using a segment: ``per_km * km * factor(installation) + per_joint``.

    ``installation_factor`` weights risky or expensive lay types (e.g. ``{"aerial": 1.5}``).
    """

    per_km: float = 1.0
    per_joint: float = 0.0
    installation_factor: Mapping[str, float] = field(default_factory=dict)

    def edge_costs(self, index: GraphIndex) -> np.ndarray:
        """Cost of every edge of the index."""
        factor = np.ones(index.m)
        for installation, value in self.installation_factor.items():
            factor[index.installation == installation] = value
        return self.per_km * index.length / 1000.0 * factor + self.per_joint


#: ``"length"`` (metres), ``"joints"`` (fewest splice points, then shortest) or a cost model.
Weight = str | CostModel


@dataclass(frozen=True)
class RouteConstraints:
    """What a route may use.

    Parameters
    ----------
    min_free_fibres
        Every segment must have at least this many free fibres. A segment whose free
        fibres are unknown (no fibre count or no usage recorded) fails any minimum above 0.
    statuses
        Segment statuses allowed (None: whatever the graph holds).
    avoid_segments, avoid_sites, avoid_risk_groups
        Codes to stay away from.
    avoid_area
        Polygon (EPSG:2154): segments crossing it and sites inside it are avoided.
    """

    min_free_fibres: int | None = None
    statuses: tuple[str, ...] | None = None
    avoid_segments: tuple[str, ...] = ()
    avoid_sites: tuple[str, ...] = ()
    avoid_risk_groups: tuple[str, ...] = ()
    avoid_area: BaseGeometry | None = None

    def is_empty(self) -> bool:
        """True when nothing is constrained."""
        return self == RouteConstraints()

    def as_dict(self) -> dict[str, Any]:
        """For provenance."""
        return {k: v for k, v in vars(self).items() if v not in (None, ())}


def shortest_path(
    graph: nx.MultiGraph,
    source: str,
    target: str,
    *,
    weight: Weight = "length",
    constraints: RouteConstraints | None = None,
) -> Route:
    """The cheapest route between two sites.

    Parameters
    ----------
    graph
        Network graph (:func:`recor.network.build_graph`).
    source, target
        Site codes or names.
    weight
        ``"length"``, ``"joints"`` or a :class:`CostModel`.
    constraints
        What the route may use.

    Returns
    -------
    Route

    Raises
    ------
    NotFound
        Unknown site, or no route satisfies the constraints.
    """
    index = graph_index(graph)
    s, t = _endpoints(graph, index, source, target)
    constraints = constraints or RouteConstraints()
    if weight == "length" and constraints.is_empty():
        weights: np.ndarray | str = "length"
    else:
        weights = edge_weights(index, weight, constraints, keep_nodes=(s, t))
    found = dijkstra_path(index, s, t, weights)
    if found is None:
        raise NotFound(
            f"no route from {index.nodes[s]} to {index.nodes[t]} {why_no_route(constraints, index)}"
        )
    nodes, edges, cost = found
    params = {"source": index.nodes[s], "target": index.nodes[t], "weight": _weight_name(weight)}
    return make_route(graph, index, nodes, edges, cost, params | constraints.as_dict())


def k_shortest_paths(
    graph: nx.MultiGraph,
    source: str,
    target: str,
    k: int,
    *,
    weight: Weight = "length",
    constraints: RouteConstraints | None = None,
) -> list[Route]:
    """The ``k`` cheapest simple routes (no site twice), cheapest first.

    Yen's algorithm over segment ids: two routes through the same sites but over different
    parallel segments are different routes (pgRouting's ``pgr_KSP`` merges them).

    Returns
    -------
    list of Route
        Fewer than ``k`` when the network has fewer simple routes; empty when none.
    """
    index = graph_index(graph)
    s, t = _endpoints(graph, index, source, target)
    constraints = constraints or RouteConstraints()
    weights = edge_weights(index, weight, constraints, keep_nodes=(s, t))
    params = {
        "source": index.nodes[s],
        "target": index.nodes[t],
        "k": k,
        "weight": _weight_name(weight),
    }
    params |= constraints.as_dict()
    return [
        make_route(graph, index, nodes, edges, cost, params)
        for nodes, edges, cost in yen_paths(index, s, t, weights, k)
    ]


def yen_paths(
    index: GraphIndex, s: int, t: int, weights: np.ndarray, k: int
) -> Iterable[tuple[list[int], list[int], float]]:
    """Yield up to ``k`` loopless paths ``(nodes, edges, cost)`` in cost order."""
    first = dijkstra_path(index, s, t, weights)
    if first is None or k <= 0:
        return
    found = [first]
    yield first
    seen = {tuple(first[1])}
    candidates: list[tuple[float, int, list[int], list[int]]] = []
    tie = 0
    spurs = SpurSearch(index, t, weights)
    while len(found) < k:
        nodes, edges, _ = found[-1]
        for j in range(len(edges)):
            root_edges = edges[:j]
            banned = {
                other_edges[j] for _, other_edges, _ in found if other_edges[:j] == root_edges
            }
            root_cost = float(weights[root_edges].sum())
            # a spur costlier than the candidates still needed cannot make the k best
            need = k - len(found)
            bound = heapq.nsmallest(need, candidates)[-1][0] if len(candidates) >= need else None
            limit = math.inf if bound is None else bound - root_cost
            spur = spurs.path(nodes[j], set(nodes[:j]), banned, limit)
            if spur is None:
                continue
            path_edges = root_edges + spur[1]
            if tuple(path_edges) in seen:
                continue
            seen.add(tuple(path_edges))
            cost = root_cost + spur[2]
            heapq.heappush(candidates, (cost, tie, nodes[:j] + spur[0], path_edges))
            tie += 1
        if not candidates:
            return
        cost, _, path_nodes, path_edges = heapq.heappop(candidates)
        found.append((path_nodes, path_edges, cost))
        yield found[-1]


class SpurSearch:
    """Shortest paths to one target ``t`` avoiding a few sites and segments (Yen's spurs).

    A* guided by the exact distance to ``t`` in the whole network (one compiled Dijkstra):
    removing sites and segments only lengthens routes, so that distance is a consistent
    lower bound and A* returns a shortest path while visiting little more than the detours
    it compares. A search that visits more than ``max_visits`` sites (a removal that cuts a
    large part off) falls back to the compiled bidirectional search, exact as well.
    """

    def __init__(
        self, index: GraphIndex, t: int, weights: np.ndarray, max_visits: int = 20_000
    ) -> None:
        self.index, self.t, self.weights = index, t, weights
        self.max_visits = max_visits
        finite = np.isfinite(weights)
        ceiling = 4.0 * float(weights[finite].sum()) + 1.0
        dist = dijkstra(index.weighted_csr(weights, ceiling), indices=t)
        # sites that reach t only through forbidden segments cannot reach it at all
        self.to_target = np.where(dist >= ceiling, math.inf, dist).tolist()
        self.cost = np.where(finite, weights, math.inf).tolist()

    def path(
        self,
        source: int,
        banned_nodes: set[int],
        banned_edges: set[int],
        limit: float = math.inf,
    ) -> tuple[list[int], list[int], float] | None:
        """Shortest ``(nodes, edges, cost)`` from ``source`` to ``t``, or None.

        None also when every route costs more than ``limit`` (the search stops there).
        """
        start, neighbour, edge = self.index.adjacency()
        h, cost, t = self.to_target, self.cost, self.t
        if not h[source] <= limit:
            return None
        best = {source: 0.0}
        via: dict[int, int] = {}
        closed: set[int] = set()
        heap = [(h[source], 0.0, source)]
        while heap:
            _, g, u = heapq.heappop(heap)
            if u in closed:
                continue
            if u == t:
                return self._unwind(source, via, g)
            closed.add(u)
            if len(closed) > self.max_visits:
                return self._compiled(source, banned_nodes, banned_edges)
            for i in range(start[u], start[u + 1]):
                e, x = edge[i], neighbour[i]
                if e in banned_edges or x in banned_nodes or x in closed:
                    continue
                ng = g + cost[e]
                if ng < best.get(x, math.inf) and ng + h[x] <= limit:
                    best[x] = ng
                    via[x] = e
                    heapq.heappush(heap, (ng + h[x], ng, x))
        return None

    def _unwind(
        self, source: int, via: dict[int, int], cost: float
    ) -> tuple[list[int], list[int], float]:
        nodes, edges = [self.t], []
        while nodes[-1] != source:
            e = via[nodes[-1]]
            edges.append(e)
            nodes.append(self.index.other_end(e, nodes[-1]))
        return nodes[::-1], edges[::-1], cost

    def _compiled(
        self, source: int, banned_nodes: set[int], banned_edges: set[int]
    ) -> tuple[list[int], list[int], float] | None:
        w = self.weights.copy()
        w[list(banned_edges)] = math.inf
        if banned_nodes:
            w[self.index.edges_of_nodes(banned_nodes)] = math.inf
        return dijkstra_path(self.index, source, self.t, w)


def dijkstra_path(
    index: GraphIndex, s: int, t: int, weights: np.ndarray | str
) -> tuple[list[int], list[int], float] | None:
    """Shortest path on the index: ``(nodes, edges, cost)``, or None.

    ``weights`` is ``"length"`` or one weight per edge (``inf`` = forbidden).
    """
    if s == t:
        return [s], [], 0.0
    if index.component[s] != index.component[t]:
        return None
    if isinstance(weights, str):
        return bidirectional_path(index, s, t)
    return bidirectional_path(index, s, t, weights)


def bidirectional_path(
    index: GraphIndex, s: int, t: int, weights: np.ndarray | None = None
) -> tuple[list[int], list[int], float] | None:
    """Shortest path: two radius-limited Dijkstra balls (compiled, scipy).

    Both balls grow to radius r; the best ``d_s(x) + w(x, y) + d_t(y)`` over all site pairs
    is the true distance as soon as it is at most 2r (the shortest path then has a segment
    leaving the first ball into the second). r starts at half the straight-line distance
    (scaled by the smallest cost per metre: a lower bound), then doubles, capped at half the
    best candidate found (which must succeed). None when the balls stop growing apart.
    """
    cost = index.length if weights is None else weights
    finite = np.isfinite(cost) & (index.length > 0)
    if not finite.any():
        return None
    ceiling = float(cost[np.isfinite(cost)].sum())
    forbidden = 4.0 * ceiling + 1.0
    matrix = index.csr() if weights is None else index.weighted_csr(weights, forbidden)
    # every route is at least as long as the straight line: scaled, a lower bound of its cost
    scale = 1.0 if weights is None else float(np.min(cost[finite] / index.length[finite]))
    gap = float(np.hypot(*(index.xy[s] - index.xy[t]))) * scale
    radius = gap / 2 if math.isfinite(gap) and gap > 0 else float(np.median(cost[finite]))
    while True:
        ds, ps = dijkstra(matrix, indices=s, limit=radius, return_predecessors=True)
        dt, pt = dijkstra(matrix, indices=t, limit=radius, return_predecessors=True)
        total = ds[index.csr_row] + matrix.data + dt[matrix.indices]
        best = int(np.argmin(total))
        if total[best] <= 2 * radius:
            if total[best] >= forbidden:
                return None
            break
        if radius > ceiling or (
            weights is not None and _exhausted(matrix, index.csr_row, ds, forbidden)
        ):
            return None
        # a finite candidate bounds the distance: half of it is a radius that must succeed
        radius = min(total[best] / 2, radius * 2)
    x, y = int(index.csr_row[best]), int(matrix.indices[best])
    head = [x]
    while head[-1] != s:
        head.append(int(ps[head[-1]]))
    tail = [y]
    while tail[-1] != t:
        tail.append(int(pt[tail[-1]]))
    nodes = head[::-1] + tail
    edges = [index.cheapest_edge(a, b, weights) for a, b in itertools.pairwise(nodes)]
    return nodes, edges, float(cost[edges].sum())


def _exhausted(matrix: sp.csr_matrix, rows: np.ndarray, dist: np.ndarray, forbidden: float) -> bool:
    """True when the ball reached its whole part of the network (no usable edge leaves it)."""
    inside = np.isfinite(dist)
    return not (inside[rows] & ~inside[matrix.indices] & (matrix.data < forbidden)).any()


def edge_weights(
    index: GraphIndex,
    weight: Weight,
    constraints: RouteConstraints,
    keep_nodes: tuple[int, ...] = (),
) -> np.ndarray:
    """Weight of every edge; ``inf`` where the constraints forbid it."""
    if isinstance(weight, CostModel):
        w = weight.edge_costs(index)
    elif weight == "length":
        w = index.length.copy()
    elif weight == "joints":
        # one per segment, lengths as an exact tie-break below one joint
        w = 1.0 + index.length / (float(index.length.sum()) + 1.0)
    else:
        raise ValueError(f"weight {weight!r}: expected 'length', 'joints' or a CostModel")
    w[~allowed_edges(index, constraints, keep_nodes)] = math.inf
    return w


def allowed_edges(
    index: GraphIndex, constraints: RouteConstraints, keep_nodes: tuple[int, ...] = ()
) -> np.ndarray:
    """Boolean mask of the edges a route may use."""
    ok = np.ones(index.m, dtype=bool)
    c = constraints
    if c.min_free_fibres:
        # unknown free fibres cannot be shown to satisfy a minimum: such segments are out
        ok &= np.nan_to_num(index.free, nan=-1.0) >= c.min_free_fibres
    if c.statuses is not None:
        ok &= np.isin(index.status.astype(str), [str(s) for s in c.statuses])
    for code in c.avoid_segments:
        if code not in index.edge_id:
            raise NotFound(f"segment {code!r} to avoid is not in the graph")
        ok[index.edge_id[code]] = False
    for group in c.avoid_risk_groups:
        ok[index.group_edges.get(group, np.empty(0, dtype=np.int64))] = False
    banned = {_node(index, code) for code in c.avoid_sites}
    if c.avoid_area is not None:
        ok &= ~shapely.intersects(index.edge_geom, c.avoid_area)
        inside = shapely.contains_xy(c.avoid_area, index.xy[:, 0], index.xy[:, 1])
        banned.update(np.flatnonzero(inside).tolist())
    if banned & set(keep_nodes):
        names = ", ".join(index.nodes[n] for n in sorted(banned & set(keep_nodes)))
        raise NotFound(f"site {names} is both an end of the route and a site to avoid")
    ok[index.edges_of_nodes(banned)] = False
    return ok


def make_route(
    graph: nx.MultiGraph,
    index: GraphIndex,
    nodes: list[int],
    edges: list[int],
    cost: float,
    parameters: dict[str, Any],
) -> Route:
    """A :class:`Route` from index ids, with its geometry in travel order."""
    codes = [index.edges[e] for e in edges]
    free = index.free[edges] if edges else np.empty(0)
    unknown = tuple(code for code, f in zip(codes, free.tolist(), strict=True) if math.isnan(f))
    groups = frozenset(g for e in edges for g in index.edge_groups[e])
    return Route(
        sites=tuple(index.nodes[n] for n in nodes),
        segments=tuple(codes),
        length_m=float(index.length[edges].sum()) if edges else 0.0,
        cost=cost,
        geometry=_route_line(index, nodes, edges),
        min_free_fibres=None if not len(free) or unknown else int(free.min()),
        risk_groups=groups,
        provenance=Provenance(graph_version(graph), parameters),
        unknown_free_segments=unknown,
    )


def _route_line(index: GraphIndex, nodes: list[int], edges: list[int]) -> LineString | None:
    """The segments' lines joined in travel order (each flipped when drawn backwards)."""
    if not edges:
        return None
    geoms = index.edge_geom[edges]
    missing = np.asarray([g is None for g in geoms])
    if missing.any():
        ends = np.column_stack([index.xy[nodes[:-1]], index.xy[nodes[1:]]]).reshape(-1, 2, 2)
        geoms = geoms.copy()
        geoms[missing] = shapely.linestrings(ends[missing])
    coords, parts = shapely.get_coordinates(geoms, return_index=True)
    counts = np.bincount(parts, minlength=len(edges))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    first, last = coords[starts], coords[starts + counts - 1]
    here = index.xy[nodes[:-1]]
    flip = np.hypot(*(first - here).T) > np.hypot(*(last - here).T)
    pieces = [
        coords[a : a + c][::-1] if f else coords[a : a + c]
        for a, c, f in zip(starts.tolist(), counts.tolist(), flip.tolist(), strict=True)
    ]
    line = np.concatenate([pieces[0]] + [p[1:] for p in pieces[1:]])
    return LineString(line) if len(line) >= 2 else None


def _endpoints(
    graph: nx.MultiGraph, index: GraphIndex, source: str, target: str
) -> tuple[int, int]:
    s, t = index.node_id[resolve_site(graph, source)], index.node_id[resolve_site(graph, target)]
    if s == t:
        raise NotFound(f"route asked from {index.nodes[s]} to itself")
    return s, t


def _node(index: GraphIndex, code: str) -> int:
    if code not in index.node_id:
        raise NotFound(f"site {code!r} to avoid is not in the graph")
    return index.node_id[code]


def _weight_name(weight: Weight) -> Any:
    return weight if isinstance(weight, str) else vars(weight)


def why_no_route(constraints: RouteConstraints, index: GraphIndex) -> str:
    """Why no route exists: separate parts, or the constraints (naming unknown capacity)."""
    if constraints.is_empty():
        return "(they are in different connected parts of the network)"
    why = f"under the constraints {constraints.as_dict()}"
    unknown = int(np.isnan(index.free).sum())
    if constraints.min_free_fibres and unknown:
        why += (
            f"; {unknown} segment(s) of unknown free fibres (no fibre count or usage recorded)"
            " were left out: they cannot be shown to have the minimum"
        )
    return why


def unknown_free_segments(graph: nx.MultiGraph) -> list[str]:
    """Codes of the segments whose free fibres are unknown (no count or no usage recorded).

    A ``min_free_fibres`` constraint never uses them: unknown is not "enough".
    """
    index = graph_index(graph)
    return [index.edges[e] for e in np.flatnonzero(np.isnan(index.free))]
