"""Redundancy: bridges, articulation sites, cuts and per-site path counts vs brute force."""

from __future__ import annotations

import networkx as nx
import pandas as pd
import pytest

from recor.errors import NotFound
from recor.network import (
    articulation_sites,
    bridges,
    redundancy_report,
    srlg_cuts,
    two_edge_components,
)
from tests.network.topology import make_graph, random_graph

SEEDS = range(12)


def _sparse(seed: int) -> nx.MultiGraph:
    """Tree-like random multigraphs: plenty of bridges, cut sites and parallel segments."""
    return random_graph(14, 17, seed, groups=4)


def _components(graph: nx.MultiGraph) -> int:
    return nx.number_connected_components(graph)


def _core_reach(graph: nx.MultiGraph, core: set[str]) -> set[str]:
    reached: set[str] = set()
    for c in core & set(graph):
        reached |= nx.node_connected_component(graph, c)
    return reached


@pytest.mark.parametrize("seed", SEEDS)
def test_bridges_are_the_segments_whose_removal_splits(seed: int) -> None:
    graph = _sparse(seed)
    expected = []
    for u, v, key in graph.edges(keys=True):
        cut = graph.copy()
        cut.remove_edge(u, v, key)
        if _components(cut) > _components(graph):
            expected.append(key)
    assert bridges(graph) == sorted(expected)


@pytest.mark.parametrize("seed", SEEDS)
def test_articulation_sites_are_the_sites_whose_removal_splits(seed: int) -> None:
    graph = _sparse(seed)
    expected = []
    for node in graph:
        cut = graph.copy()
        cut.remove_node(node)
        if _components(cut) > _components(graph) - (graph.degree(node) == 0):
            expected.append(node)
    assert articulation_sites(graph) == sorted(expected)


def test_parallel_segments_are_not_bridges() -> None:
    """A ==p1/p2== B --q-- C : q is a bridge, p1 and p2 are not; {A, B} is 2-edge-connected."""
    graph = make_graph(
        {"A": (0, 0), "B": (1, 0), "C": (2, 0)},
        [("p1", "A", "B", 1000), ("p2", "A", "B", 1200), ("q", "B", "C", 1000)],
    )
    assert bridges(graph) == ["q"]
    assert two_edge_components(graph) == [frozenset({"A", "B"}), frozenset({"C"})]


@pytest.mark.parametrize("seed", SEEDS)
def test_two_edge_components_are_exactly_what_no_single_cut_separates(seed: int) -> None:
    graph = _sparse(seed)
    component_of = {n: i for i, c in enumerate(two_edge_components(graph)) for n in c}
    assert set(component_of) == set(graph)
    cuts = []
    for u, v, key in graph.edges(keys=True):
        cut = graph.copy()
        cut.remove_edge(u, v, key)
        cuts.append(cut)
    for a, b in _pairs(graph):
        separable = not nx.has_path(graph, a, b) or any(not nx.has_path(c, a, b) for c in cuts)
        assert (component_of[a] != component_of[b]) == separable, (a, b)


def _pairs(graph: nx.MultiGraph) -> list[tuple[str, str]]:
    nodes = sorted(graph)
    return [(a, b) for i, a in enumerate(nodes) for b in nodes[i + 1 :]]


@pytest.mark.parametrize("seed", SEEDS)
def test_srlg_cuts_are_the_groups_whose_removal_splits(seed: int) -> None:
    graph = _sparse(seed)
    groups: dict[str, list[tuple[str, str, str]]] = {}
    for u, v, key, data in graph.edges(keys=True, data=True):
        for group in data["risk_groups"]:
            groups.setdefault(group, []).append((u, v, key))
    expected = {}
    core = {"S0"}
    for group, members in groups.items():
        cut = graph.copy()
        cut.remove_edges_from(members)
        if _components(cut) > _components(graph):
            expected[group] = sorted(_core_reach(graph, core) - _core_reach(cut, core))
    found = {c.group: list(c.sites_cut_off) for c in srlg_cuts(graph)}
    assert found == expected


def _edge_paths(graph: nx.MultiGraph, site: str, core: set[str]) -> int:
    """Brute force: how many segments must fail to cut the site off (capped at 2)."""
    keys = list(graph.edges(keys=True))
    for size in (0, 1):
        for i in range(len(keys)) if size else [None]:
            cut = graph.copy()
            if i is not None:
                cut.remove_edge(*keys[i])
            if site not in _core_reach(cut, core):
                return size
    return 2


def _node_paths(graph: nx.MultiGraph, site: str, core: set[str]) -> int:
    """Brute force: a single site or segment whose loss cuts the site off → 1."""
    if site not in _core_reach(graph, core):
        return 0
    if _edge_paths(graph, site, core) < 2:
        return 1
    for node in set(graph) - core - {site}:
        cut = graph.copy()
        cut.remove_node(node)
        if site not in _core_reach(cut, core):
            return 1
    return 2


def _cored(seed: int) -> nx.MultiGraph:
    return random_graph(14, 18, seed, groups=3)


def test_the_random_cases_include_every_kind_of_single_point_of_failure() -> None:
    """Sites cut off by a segment, by a site only, and by a shared-risk group only."""
    frames = [redundancy_report(_cored(s), core=["S0", "S1"]).sites for s in range(10)]
    sites = pd.concat(frames)
    assert (sites["edge_paths"] == 1).sum() >= 5
    assert ((sites["edge_paths"] == 2) & (sites["node_paths"] == 1)).sum() >= 2
    assert ((sites["node_paths"] == 2) & (sites["srlg_paths"] == 1)).sum() >= 3


@pytest.mark.parametrize("seed", range(10))
def test_per_site_path_counts_match_brute_force(seed: int) -> None:
    """Two core sites (S0, S1) merged into one core; counts capped at 2."""
    graph = _cored(seed)
    core = {"S0", "S1"}
    report = redundancy_report(graph, core=sorted(core))
    sites = report.sites.set_index("code")
    for site in set(graph) - core:
        assert sites.loc[site, "edge_paths"] == _edge_paths(graph, site, core), site
        assert sites.loc[site, "node_paths"] == _node_paths(graph, site, core), site
        assert sites.loc[site, "srlg_paths"] == _srlg_paths(graph, site, core), site


def _srlg_paths(graph: nx.MultiGraph, site: str, core: set[str]) -> int:
    """Brute force: a single site, segment or shared-risk group cuts the site off → 1."""
    paths = _node_paths(graph, site, core)
    if paths < 2:
        return paths
    groups: dict[str, list[tuple[str, str, str]]] = {}
    for u, v, key, data in graph.edges(keys=True, data=True):
        for group in data["risk_groups"]:
            groups.setdefault(group, []).append((u, v, key))
    for members in groups.values():
        cut = graph.copy()
        cut.remove_edges_from(members)
        if site not in _core_reach(cut, core):
            return 1
    return 2


def test_single_homed_sites_are_ranked_with_a_new_build_estimate() -> None:
    """DC --a-- P1 --b-- P2 --c-- P3        P2 serves P3 and itself; P1 serves three
    DC --d-- Q1 --e-- DC                   Q1 is double-homed (ring)
    P3 is 1 km from Q1: the nearest site that gives P3 an independent path.
    """
    graph = make_graph(
        {
            "DC": (0, 0, "datacentre"),
            "P1": (10, 0),
            "P2": (20, 0),
            "P3": (20, 5),
            "Q1": (21, 5),
            "R": (5, 5, "chamber"),
        },
        [
            ("a", "DC", "P1", 10_000),
            ("b", "P1", "P2", 10_000),
            ("c", "P2", "P3", 5_000),
            ("d", "DC", "R", 8_000),
            ("d2", "R", "Q1", 18_000),
            ("e", "Q1", "DC", 26_000),
        ],
    )
    report = redundancy_report(graph, level="edge")
    ranked = report.single_homed
    assert list(ranked["code"]) == ["P1", "P2", "P3"]
    assert list(ranked["served"]) == [3, 2, 1]
    p3 = ranked.set_index("code").loc["P3"]
    assert p3["new_build_to"] == "Q1"
    assert p3["new_build_km"] == pytest.approx(1.0)
    assert report.sites.set_index("code").loc["Q1", "edge_paths"] == 2
    assert report.provenance is not None and report.provenance.parameters["core"] == ["DC"]


def test_a_network_without_datacentre_needs_a_named_core() -> None:
    graph = make_graph({"A": (0, 0), "B": (1, 0)}, [("s", "A", "B", 1000)])
    with pytest.raises(NotFound, match="name a core set"):
        redundancy_report(graph)
    assert redundancy_report(graph, core=["A"]).single_homed["code"].tolist() == ["B"]
