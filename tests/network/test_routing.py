"""Routing: shortest and k shortest routes, constraints, optical budgets."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
from shapely.geometry import box

from recor.errors import NotFound
from recor.network import (
    CostModel,
    RouteConstraints,
    k_shortest_paths,
    optical_budget,
    shortest_path,
)
from recor.network._index import graph_index
from recor.network.routing import SpurSearch
from tests.network.topology import X0, Y0, make_graph, random_graph

#: Used by several tests (B sits 1 km north of the A-C line, D 1 km south)::
#:
#:            B                    s1: A-B 1 km, duct DUCT-1
#:          /   \                  s2: B-C 1 km
#:     A ---s5--- C                s5: A-C 2.5 km direct, also in DUCT-1
#:          \   /                  s3: A-D 1.5 km, s4: D-C 1.5 km (2 free fibres each)
#:            D
SITES = {"A": (0, 0), "B": (1, 1), "C": (2, 0), "D": (1, -1)}
SEGMENTS = [
    ("s1", "A", "B", 1000, ["DUCT-1"]),
    ("s2", "B", "C", 1000),
    ("s3", "A", "D", 1500, [], 2),
    ("s4", "D", "C", 1500, [], 2),
    ("s5", "A", "C", 2500, ["DUCT-1"]),
]


@pytest.fixture
def square() -> nx.MultiGraph:
    return make_graph(SITES, SEGMENTS)


def test_shortest_route_by_length_goes_through_b(square: nx.MultiGraph) -> None:
    """A --s1-- B --s2-- C (2 km) beats A --s5-- C (2.5 km) and A-D-C (3 km)."""
    route = shortest_path(square, "A", "C")
    assert route.sites == ("A", "B", "C")
    assert route.segments == ("s1", "s2")
    assert route.length_m == pytest.approx(2000)
    assert route.joints == 1
    assert route.provenance is not None and route.provenance.parameters["weight"] == "length"


def test_route_geometry_runs_in_travel_order(square: nx.MultiGraph) -> None:
    """C --s2-- B --s1-- A: the line starts at C even though s2 is drawn B to C."""
    route = shortest_path(square, "C", "A")
    assert route.geometry is not None
    assert route.geometry.coords[0] == pytest.approx((X0 + 2000, Y0))
    assert route.geometry.coords[-1] == pytest.approx((X0, Y0))


def test_fewest_joints_takes_the_direct_segment(square: nx.MultiGraph) -> None:
    """A ==s5== C has no joint; A-B-C has one."""
    assert shortest_path(square, "A", "C", weight="joints").segments == ("s5",)


def test_cost_model_penalises_installation(square: nx.MultiGraph) -> None:
    """Ducts cost 2x per km: A-B-C 4, s5 5 → still A-B-C; s5 cheap if aerial had factor 0.5."""
    model = CostModel(per_km=1.0, installation_factor={"duct": 2.0})
    assert shortest_path(square, "A", "C", weight=model).segments == ("s1", "s2")
    model = CostModel(per_km=1.0, per_joint=10.0)
    assert shortest_path(square, "A", "C", weight=model).segments == ("s5",)


@pytest.mark.parametrize(
    ("constraints", "expected"),
    [
        (RouteConstraints(avoid_segments=("s2",)), ("s5",)),
        (RouteConstraints(avoid_sites=("B",)), ("s5",)),
        (RouteConstraints(avoid_risk_groups=("DUCT-1",)), ("s3", "s4")),
        (RouteConstraints(min_free_fibres=10, avoid_sites=("B",)), ("s5",)),
        (RouteConstraints(avoid_area=box(X0 + 900, Y0 + 900, X0 + 1100, Y0 + 1100)), ("s5",)),
    ],
)
def test_constraints_steer_the_route(
    square: nx.MultiGraph, constraints: RouteConstraints, expected: tuple[str, ...]
) -> None:
    """Avoiding B, s2, the duct of s1 and s5, a box around B, or thin segments."""
    assert shortest_path(square, "A", "C", constraints=constraints).segments == expected


def test_allowed_statuses_keep_planned_segments_out() -> None:
    """A --s1 (in service, 1 km)-- B --s2 (planned, 1 km)-- C
    A --s3 (in service, 5 km)------------------------- C
    """
    graph = make_graph(
        {"A": (0, 0), "B": (1, 0), "C": (2, 0)},
        [("s1", "A", "B", 1000), ("s2", "B", "C", 1000), ("s3", "A", "C", 5000)],
    )
    nx.set_edge_attributes(graph, {("B", "C", "s2"): "planned"}, "status")
    assert shortest_path(graph, "A", "C").segments == ("s1", "s2")
    only_live = RouteConstraints(statuses=("in_service",))
    assert shortest_path(graph, "A", "C", constraints=only_live).segments == ("s3",)


def test_no_route_raises_not_found_naming_the_constraints(square: nx.MultiGraph) -> None:
    """A cut off by avoiding s1, s3 and s5."""
    constraints = RouteConstraints(avoid_segments=("s1", "s3", "s5"))
    with pytest.raises(NotFound, match="avoid_segments"):
        shortest_path(square, "A", "C", constraints=constraints)


def test_sites_are_found_by_name_and_unknown_ones_are_refused(square: nx.MultiGraph) -> None:
    assert shortest_path(square, "site a", "Site C").sites == ("A", "B", "C")
    with pytest.raises(NotFound, match="Nowhere"):
        shortest_path(square, "Nowhere", "C")


def test_k_shortest_keeps_parallel_segments() -> None:
    """A --p1(1 km)-- B --q(1 km)-- C
    A --p2(2 km)-- B                   (p1, p2 parallel between A and B)
    A --r(5 km)--------------------- C

    Three routes: p1+q (2 km), p2+q (3 km), r (5 km).
    """
    graph = make_graph(
        {"A": (0, 0), "B": (1, 0), "C": (2, 0)},
        [
            ("p1", "A", "B", 1000),
            ("p2", "A", "B", 2000),
            ("q", "B", "C", 1000),
            ("r", "A", "C", 5000),
        ],
    )
    routes = k_shortest_paths(graph, "A", "C", 5)
    assert [r.segments for r in routes] == [("p1", "q"), ("p2", "q"), ("r",)]
    assert [r.length_m for r in routes] == [2000, 3000, 5000]


@pytest.mark.parametrize("seed", range(6))
def test_k_shortest_match_every_simple_path_sorted(seed: int) -> None:
    """Random multigraphs: Yen's k routes are the k cheapest of all simple edge paths."""
    graph = random_graph(9, 16, seed)
    k = 12
    routes = k_shortest_paths(graph, "S1", "S8", k)
    brute = sorted(
        sum(graph.edges[u, v, key]["length_m"] for u, v, key in path)
        for path in nx.all_simple_edge_paths(graph, "S1", "S8")
    )
    assert [r.length_m for r in routes] == pytest.approx(brute[:k])
    assert len({r.segments for r in routes}) == len(routes)
    for route in routes:
        assert len(set(route.sites)) == len(route.sites)


@pytest.mark.parametrize("seed", range(4))
def test_shortest_matches_networkx_dijkstra(seed: int) -> None:
    graph = random_graph(40, 80, seed)
    simple = nx.Graph()
    for u, v, data in graph.edges(data=True):
        if not simple.has_edge(u, v) or simple[u][v]["w"] > data["length_m"]:
            simple.add_edge(u, v, w=data["length_m"])
    for a, b in itertools.islice(itertools.combinations(sorted(graph), 2), 0, 200, 7):
        expected = nx.dijkstra_path_length(simple, a, b, weight="w")
        assert shortest_path(graph, a, b).length_m == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(6))
def test_constrained_routes_match_networkx_on_the_remaining_network(seed: int) -> None:
    """A third of the segments avoided at random: same length as Dijkstra on what is left,
    and NotFound exactly when what is left is disconnected."""
    graph = random_graph(40, 70, seed)
    rng = np.random.default_rng(seed)
    keys = sorted(k for *_, k in graph.edges(keys=True))
    avoided = tuple(str(k) for k in rng.choice(keys, size=len(keys) // 3, replace=False))
    left = graph.copy()
    left.remove_edges_from([(u, v, k) for u, v, k in graph.edges(keys=True) if k in avoided])
    simple = nx.Graph()
    simple.add_nodes_from(left)
    for u, v, data in left.edges(data=True):
        if not simple.has_edge(u, v) or simple[u][v]["w"] > data["length_m"]:
            simple.add_edge(u, v, w=data["length_m"])
    constraints = RouteConstraints(avoid_segments=avoided)
    for a, b in itertools.islice(itertools.combinations(sorted(graph), 2), 0, 300, 11):
        if nx.has_path(simple, a, b):
            expected = nx.dijkstra_path_length(simple, a, b, weight="w")
            route = shortest_path(graph, a, b, constraints=constraints)
            assert route.length_m == pytest.approx(expected)
            assert not set(route.segments) & set(avoided)
        else:
            with pytest.raises(NotFound):
                shortest_path(graph, a, b, constraints=constraints)


def test_optical_budget_adds_fibre_splices_connectors_and_margin(
    square: nx.MultiGraph,
) -> None:
    """A-B-C: 2 km, 1 joint. 1310 nm: 2*0.35 + 0.1 + 2*0.5 + 3 = 4.8 dB."""
    route = shortest_path(square, "A", "C")
    budget = optical_budget(route, wavelength_nm=1310, budget_db=5.0)
    assert budget.total_loss_db == pytest.approx(4.8)
    assert budget.passes and budget.headroom_db == pytest.approx(0.2)
    tight = optical_budget(route, wavelength_nm=1550, budget_db=4.0, margin_db=1.0)
    assert tight.total_loss_db == pytest.approx(2 * 0.25 + 0.1 + 1.0 + 1.0)
    assert tight.passes
    assert not optical_budget(route, budget_db=4.0).passes
    with pytest.raises(ValueError, match="attenuation_db_per_km"):
        optical_budget(route, wavelength_nm=850)


def test_a_route_from_a_site_to_itself_is_refused(square: nx.MultiGraph) -> None:
    site = next(iter(square.nodes))
    with pytest.raises(NotFound, match="to itself"):
        shortest_path(square, site, site)
    with pytest.raises(NotFound, match="to itself"):
        k_shortest_paths(square, site, site, 2)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("k", [2, 3, 5])
def test_k_shortest_with_few_routes_asked_match_brute_force(seed: int, k: int) -> None:
    """Small k prunes spur searches by the candidates already found: still the k cheapest."""
    graph = random_graph(10, 19, seed)
    routes = k_shortest_paths(graph, "S1", "S9", k)
    brute = sorted(
        sum(graph.edges[u, v, key]["length_m"] for u, v, key in path)
        for path in nx.all_simple_edge_paths(graph, "S1", "S9")
    )
    assert [r.length_m for r in routes] == pytest.approx(brute[:k])


@pytest.mark.parametrize("seed", range(6))
def test_spur_search_gives_the_compiled_answer_with_or_without_fallback(seed: int) -> None:
    """A* spurs (guided by the distance to the target) vs the compiled search they fall back
    to when they visit too much: same costs, whatever is removed."""
    graph = random_graph(30, 55, seed)
    index = graph_index(graph)
    weights = index.length.copy()
    rng = np.random.default_rng(seed)
    t = index.node_id["S0"]
    guided, fallback = SpurSearch(index, t, weights), SpurSearch(index, t, weights, max_visits=0)
    for _ in range(40):
        source = int(rng.integers(1, index.n))
        nodes = set(rng.choice(index.n, 4).tolist()) - {source, t}
        edges = set(rng.choice(index.m, 5).tolist())
        a, b = guided.path(source, nodes, edges), fallback.path(source, nodes, edges)
        assert (a is None) == (b is None)
        if a is not None and b is not None:
            assert a[2] == pytest.approx(b[2])
            assert a[1][0] in index.incident(source) and not set(a[1]) & edges
