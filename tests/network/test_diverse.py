"""Diverse pairs: exact minimum total length, checked against brute force and a trap."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest

from recor.errors import NotFound
from recor.network import RouteConstraints, diverse_pair, shortest_path
from recor.network._flow import two_unit_flow
from recor.network._index import graph_index
from tests.network import flow_reference
from tests.network.topology import make_graph, random_graph

#: The trap::
#:
#:     S --sa(1)-- a --ab(1)-- b --bT(1)-- T
#:     S --Sb(3)------------- b
#:                 a --aT(3)------------- T
#:
#: Shortest S-a-b-T (3) uses ab, after which S and T are disconnected; yet S-a-T and
#: S-b-T are disjoint (4 + 4 = 8).
TRAP_SITES = {"S": (0, 0), "a": (1, 1), "b": (2, 1), "T": (3, 0)}
TRAP = [
    ("sa", "S", "a", 1000),
    ("ab", "a", "b", 1000),
    ("bT", "b", "T", 1000),
    ("Sb", "S", "b", 3000),
    ("aT", "a", "T", 3000),
]


def test_greedy_fails_on_the_trap_but_the_diverse_pair_does_not() -> None:
    """Shortest-then-remove finds no second route; the min-cost flow finds 8 km."""
    graph = make_graph(TRAP_SITES, TRAP)
    first = shortest_path(graph, "S", "T")
    assert first.segments == ("sa", "ab", "bT")
    with pytest.raises(NotFound):
        shortest_path(graph, "S", "T", constraints=RouteConstraints(avoid_segments=first.segments))
    for level in ("edge", "node", "srlg"):
        pair = diverse_pair(graph, "S", "T", disjointness=level)
        assert pair.achieved and pair.exact
        assert {pair.first.segments, pair.second.segments} == {("sa", "aT"), ("Sb", "bT")}
        assert pair.total_length_m == pytest.approx(8000)


def test_shared_duct_forces_the_longer_srlg_pair() -> None:
    """A --x1(1)-- B --x2(1)-- Z        x1 and y1 share duct D
    A --y1(1)-- C --y2(1)-- Z
    A --w1(3)-- E --w2(3)-- Z

    Node-disjoint optimum: x + y (4 km) shares duct D; SRLG-disjoint: x or y with w (8 km).
    """
    graph = make_graph(
        {"A": (0, 0), "B": (1, 1), "C": (1, 0), "E": (1, -1), "Z": (2, 0)},
        [
            ("x1", "A", "B", 1000, ["D"]),
            ("x2", "B", "Z", 1000),
            ("y1", "A", "C", 1000, ["D"]),
            ("y2", "C", "Z", 1000),
            ("w1", "A", "E", 3000),
            ("w2", "E", "Z", 3000),
        ],
    )
    assert diverse_pair(graph, "A", "Z", disjointness="node").total_length_m == 4000
    pair = diverse_pair(graph, "A", "Z", disjointness="srlg")
    assert pair.achieved and pair.exact
    assert pair.total_length_m == pytest.approx(8000)
    assert pair.second is not None and pair.second.segments == ("w1", "w2")


def test_when_disjointness_is_impossible_the_pair_names_what_it_shares() -> None:
    """A --e1-- B --e3-- C       B is a single point of failure
    A --e2-- B --e4-- C       e1/e2 and e3/e4 are parallel
    """
    graph = make_graph(
        {"A": (0, 0), "B": (1, 0), "C": (2, 0)},
        [
            ("e1", "A", "B", 1000, ["D1"]),
            ("e2", "A", "B", 2000, ["D1"]),
            ("e3", "B", "C", 1000),
            ("e4", "B", "C", 1500),
        ],
    )
    edge = diverse_pair(graph, "A", "C", disjointness="edge")
    assert edge.achieved and edge.total_length_m == pytest.approx(5500)
    node = diverse_pair(graph, "A", "C", disjointness="node")
    assert not node.achieved and not node.exact
    assert node.shared_sites == ("B",) and node.shared_segments == ()
    srlg = diverse_pair(graph, "A", "C", disjointness="srlg")
    assert not srlg.achieved
    assert srlg.shared_sites == ("B",) and srlg.shared_risk_groups == ("D1",)


def test_a_bridge_leaves_two_identical_routes_sharing_everything() -> None:
    """A --only-- B"""
    graph = make_graph({"A": (0, 0), "B": (1, 0)}, [("only", "A", "B", 1000)])
    pair = diverse_pair(graph, "A", "B", disjointness="edge")
    assert not pair.achieved and pair.shared_segments == ("only",)


def _brute_force(graph: nx.MultiGraph, s: str, t: str, level: str) -> float:
    paths = []
    for path in nx.all_simple_edge_paths(graph, s, t):
        nodes = {u for u, _, _ in path[1:]}
        edges = {key for _, _, key in path}
        groups = {g for u, v, key in path for g in graph.edges[u, v, key]["risk_groups"]}
        length = sum(graph.edges[u, v, key]["length_m"] for u, v, key in path)
        paths.append((length, nodes, edges, groups))
    best = math.inf
    for p, q in itertools.combinations(paths, 2):
        if p[2] & q[2]:
            continue
        if level in ("node", "srlg") and p[1] & q[1]:
            continue
        if level == "srlg" and p[3] & q[3]:
            continue
        best = min(best, p[0] + q[0])
    return best


SEEDS = range(30)


def _random(seed: int) -> nx.MultiGraph:
    return random_graph(10, 20, seed, groups=8)


def test_the_random_cases_include_srlg_only_and_impossible_pairs() -> None:
    """The brute-force cases below are worth something: some need the shared-risk search."""
    totals = [
        (_brute_force(_random(s), "S1", "S7", "node"), _brute_force(_random(s), "S1", "S7", "srlg"))
        for s in SEEDS
    ]
    assert sum(math.isfinite(srlg) and srlg > node for node, srlg in totals) >= 3
    assert sum(math.isinf(srlg) for _, srlg in totals) >= 2


@pytest.mark.parametrize("level", ["edge", "node", "srlg"])
@pytest.mark.parametrize("seed", SEEDS)
def test_diverse_pair_is_the_brute_force_minimum(level: str, seed: int) -> None:
    """Random small multigraphs with shared-risk groups: same total as trying every pair."""
    graph = _random(seed)
    expected = _brute_force(graph, "S1", "S7", level)
    pair = diverse_pair(graph, "S1", "S7", disjointness=level)
    if math.isinf(expected):
        assert not pair.achieved
    else:
        assert pair.achieved and pair.exact
        assert pair.total_length_m == pytest.approx(expected)


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("seed", range(40))
def test_compiled_flow_returns_the_paths_of_the_arc_by_arc_flow(seed: int, split: bool) -> None:
    """The pair-level flow (arcs never materialised, Dijkstra kept off unusable pairs)
    against the arc-level one it replaced: the same two paths, on networks with parallel
    segments, equal costs (ties) and forbidden segments."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 30))
    graph = random_graph(n, n - 1 + int(rng.integers(0, n)), seed)
    index = graph_index(graph)
    weights = np.round(index.length / 500.0) * 500.0
    weights[rng.random(index.m) < 0.1] = math.inf
    for _ in range(6):
        s, t = (int(v) for v in rng.choice(index.n, size=2, replace=False))
        expected = flow_reference.two_unit_flow(index, s, t, weights, node_disjoint=split)
        assert two_unit_flow(index, s, t, weights, node_disjoint=split) == expected
