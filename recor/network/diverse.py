"""The most diverse pair of routes between two sites.

Edge- and node-disjoint pairs come from a min-cost flow of two units (Suurballe's
successive shortest paths with Dijkstra potentials), which is exact: the pair has the
minimum total length among all disjoint pairs. "Shortest, then remove it and retry" is not:
on a trap topology the shortest path blocks every disjoint partner.

Sharing is never forbidden, only priced: every shared segment or site costs more than any
route pair, so the flow returns a disjoint pair whenever one exists and otherwise the pair
sharing the fewest elements, which it names.

Shared-risk diversity (no common segment, site or shared-risk group) is NP-hard in general.
The node-disjoint optimum is tried first (if it shares no group, it is optimal); otherwise
candidate first routes are enumerated in increasing length (Yen) and each is paired with
the cheapest route avoiding its sites, segments and groups. Enumeration stops as soon as
twice the candidate's length reaches the best disjoint total: the shorter route of the
optimal pair has then been tried, so the pair found is proven minimal.
"""

from __future__ import annotations

import logging
import time

import networkx as nx
import numpy as np

from recor.config import NetworkSettings
from recor.errors import NotFound
from recor.network._flow import two_unit_flow
from recor.network._index import GraphIndex, graph_index
from recor.network.graph import graph_version, resolve_site
from recor.network.model import Provenance, RoutePair
from recor.network.routing import (
    RouteConstraints,
    Weight,
    dijkstra_path,
    edge_weights,
    make_route,
    why_no_route,
    yen_paths,
)

__all__ = ["DISJOINTNESS", "diverse_pair"]

#: Levels of diversity, weakest first.
DISJOINTNESS = ("edge", "node", "srlg")

_Path = tuple[list[int], list[int], float]

log = logging.getLogger(__name__)


def diverse_pair(
    graph: nx.MultiGraph,
    source: str,
    target: str,
    *,
    disjointness: str = "srlg",
    weight: Weight = "length",
    constraints: RouteConstraints | None = None,
    settings: NetworkSettings | None = None,
) -> RoutePair:
    """Two routes as independent as possible, with the minimum total length.

    Parameters
    ----------
    graph
        Network graph.
    source, target
        Site codes or names.
    disjointness
        ``"edge"`` (no common segment), ``"node"`` (no common segment or intermediate
        site) or ``"srlg"`` (no common segment, intermediate site or shared-risk group).
    weight, constraints
        As for :func:`recor.network.shortest_path`.
    settings
        ``diverse_max_candidates`` bounds the shared-risk search.

    Returns
    -------
    RoutePair
        ``achieved`` False and ``shared_*`` filled when full disjointness is impossible.

    Raises
    ------
    NotFound
        Unknown site, or no route at all.
    """
    if disjointness not in DISJOINTNESS:
        raise ValueError(f"disjointness {disjointness!r}: expected one of {DISJOINTNESS}")
    settings = settings or NetworkSettings()
    index = graph_index(graph)
    s = index.node_id[resolve_site(graph, source)]
    t = index.node_id[resolve_site(graph, target)]
    if s == t:
        raise NotFound(f"diverse pair asked from {index.nodes[s]} to itself")
    constraints = constraints or RouteConstraints()
    weights = edge_weights(index, weight, constraints, keep_nodes=(s, t))
    pair = two_unit_flow(index, s, t, weights, node_disjoint=disjointness != "edge")
    if pair is None:
        raise NotFound(
            f"no route from {index.nodes[s]} to {index.nodes[t]} {why_no_route(constraints, index)}"
        )
    method, exact = "min-cost flow (Suurballe)", True
    shared_edges, shared_nodes, shared_groups = _shares(index, *pair)
    # a pair sharing a segment or a site cannot be made shared-risk-disjoint by searching
    if disjointness == "srlg" and shared_groups and not shared_edges and not shared_nodes:
        searched = _srlg_search(index, s, t, weights, settings)
        if searched is not None:
            pair, exact = searched[:2], searched[2]
            method = "Yen enumeration with shared-risk penalties, length-bounded"
    params = {
        "source": index.nodes[s],
        "target": index.nodes[t],
        "disjointness": disjointness,
        "weight": weight if isinstance(weight, str) else vars(weight),
    } | constraints.as_dict()
    return _result(graph, index, pair, disjointness, exact, method, params)


def _srlg_search(
    index: GraphIndex, s: int, t: int, weights: np.ndarray, settings: NetworkSettings
) -> tuple[_Path, _Path, bool] | None:
    """Best shared-risk-disjoint pair over first-route candidates in length order."""
    penalty = 2.0 * float(weights[np.isfinite(weights)].sum()) + 1.0
    best: tuple[tuple[int, float], _Path, _Path] | None = None
    tried, max_candidates = 0, settings.diverse_max_candidates
    deadline = time.monotonic() + settings.diverse_time_budget_s
    for first in yen_paths(index, s, t, weights, max_candidates):
        tried += 1
        if best is not None and best[0][0] == 0 and 2 * first[2] >= best[0][1]:
            return best[1], best[2], True
        if time.monotonic() > deadline:
            log.warning("shared-risk diverse search stopped by its time budget after %d", tried)
            tried = max_candidates
            break
        second = dijkstra_path(index, s, t, _avoiding(index, weights, first, penalty))
        if second is None:
            continue
        second = (second[0], second[1], float(weights[second[1]].sum()))
        shared = sum(len(x) for x in _shares(index, first, second))
        score = (shared, first[2] + second[2])
        if best is None or score < best[0]:
            best = (score, first, second)
    if best is None:
        return None
    # every simple first route was tried when the enumeration ran dry
    proven = tried < max_candidates and best[0][0] == 0
    return best[1], best[2], proven


def _avoiding(index: GraphIndex, weights: np.ndarray, path: _Path, penalty: float) -> np.ndarray:
    w = weights.copy()
    nodes, edges, _ = path
    w[edges] += penalty
    groups = {g for e in edges for g in index.edge_groups[e]}
    for group in groups:
        w[index.group_edges[group]] += penalty
    inner = nodes[1:-1]
    if inner:
        w[index.edges_of_nodes(inner)] += penalty
    return w


def _shares(
    index: GraphIndex, first: _Path, second: _Path
) -> tuple[list[int], list[int], list[str]]:
    edges = sorted(set(first[1]) & set(second[1]))
    nodes = sorted(set(first[0][1:-1]) & set(second[0][1:-1]))
    g1 = {g for e in first[1] for g in index.edge_groups[e]}
    g2 = {g for e in second[1] for g in index.edge_groups[e]}
    return edges, nodes, sorted(g1 & g2)


def _result(
    graph: nx.MultiGraph,
    index: GraphIndex,
    pair: tuple[_Path, _Path],
    disjointness: str,
    exact: bool,
    method: str,
    params: dict,
) -> RoutePair:
    first, second = sorted(pair, key=lambda p: p[2])
    edges, nodes, groups = _shares(index, first, second)
    achieved = not edges
    if disjointness in ("node", "srlg"):
        achieved = achieved and not nodes
    if disjointness == "srlg":
        achieved = achieved and not groups
    routes = [make_route(graph, index, p[0], p[1], p[2], params) for p in (first, second)]
    return RoutePair(
        first=routes[0],
        second=routes[1],
        disjointness=disjointness,
        achieved=achieved,
        shared_segments=tuple(index.edges[e] for e in edges),
        shared_sites=tuple(index.nodes[n] for n in nodes),
        shared_risk_groups=tuple(groups),
        exact=exact and achieved,
        method=method,
        provenance=Provenance(graph_version(graph), params),
    )
