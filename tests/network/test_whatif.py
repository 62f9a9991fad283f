"""What-if failures and the worst disk, checked by removing elements and recomputing."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from shapely.geometry import Point

from recor.config import NetworkSettings
from recor.network import circle, what_if, worst_disk_failure
from recor.network._index import graph_index
from recor.network._structure import core_reach
from recor.network.disk import CertifiedLoss
from tests.network.topology import X0, Y0, make_graph, random_graph


def _reach(graph: nx.MultiGraph, core: set[str]) -> set[str]:
    reached: set[str] = set()
    for c in core & set(graph):
        reached |= nx.node_connected_component(graph, c)
    return reached


def _length(graph: nx.MultiGraph, a: str, b: str) -> float:
    try:
        return nx.dijkstra_path_length(nx.Graph(_simple(graph)), a, b, weight="length_m")
    except nx.NetworkXNoPath:
        return math.inf


def _simple(graph: nx.MultiGraph) -> nx.Graph:
    simple = nx.Graph()
    simple.add_nodes_from(graph)
    for u, v, data in graph.edges(data=True):
        if not simple.has_edge(u, v) or simple[u][v]["length_m"] > data["length_m"]:
            simple.add_edge(u, v, length_m=data["length_m"])
    return simple


def test_cutting_a_ring_reroutes_with_its_stretch() -> None:
    """DC --a(1)-- P --b(1)-- Q --c(1)-- DC   (a ring)
    Q --d(1)-- L                            (L hangs on Q)

    Cut b: P and Q still reach DC (P via a, Q via c); no route breaks.
    Cut a: P reroutes P-Q-DC (2 km instead of 1, stretch 100 %).
    Cut site Q: L is cut off.
    """
    graph = make_graph(
        {"DC": (0, 0, "datacentre"), "P": (1, 1), "Q": (1, -1), "L": (2, -1)},
        [
            ("a", "DC", "P", 1000),
            ("b", "P", "Q", 1000),
            ("c", "Q", "DC", 1000),
            ("d", "Q", "L", 1000),
        ],
    )
    assert not what_if(graph, segments=["b"]).broken_routes.shape[0]
    cut_a = what_if(graph, segments=["a"])
    row = cut_a.broken_routes.set_index("source").loc["P"]
    assert row["reroute_length_m"] == pytest.approx(2000)
    assert row["stretch_pct"] == pytest.approx(100.0)
    assert row["reroute_segments"] == ("b", "c")
    assert cut_a.sites_cut_off.empty
    cut_q = what_if(graph, sites=["Q"])
    assert cut_q.sites_cut_off["code"].tolist() == ["L"]
    assert set(cut_q.cut_segments) == {"b", "c", "d"}
    assert cut_q.broken_routes.set_index("source").loc["L", "broken"]
    assert math.isnan(cut_q.broken_routes.set_index("source").loc["L", "reroute_length_m"])


@pytest.mark.parametrize("seed", range(8))
def test_what_if_matches_removing_the_elements(seed: int) -> None:
    """Random failures: sites cut off and reroute lengths as recomputed by networkx."""
    graph = random_graph(25, 34, seed, groups=4)
    rng = np.random.default_rng(seed)
    keys = [k for _, _, k in graph.edges(keys=True)]
    segments = [str(k) for k in rng.choice(keys, size=3, replace=False)]
    sites = [f"S{rng.integers(2, 25)}"]
    group = min(g for _, _, d in graph.edges(data=True) for g in d["risk_groups"])
    result = what_if(graph, segments=segments, risk_groups=[group], sites=sites)
    damaged = graph.copy()
    damaged.remove_edges_from(
        (u, v, k)
        for u, v, k, d in graph.edges(keys=True, data=True)
        if k in segments or group in d["risk_groups"]
    )
    damaged.remove_nodes_from(sites)
    lost = _reach(graph, {"S0"}) - _reach(damaged, {"S0"}) - set(sites)
    assert set(result.sites_cut_off["code"]) == lost
    for row in result.routes.itertuples():
        assert row.length_m == pytest.approx(_length(graph, row.source, "S0"))
        if row.source in sites:
            assert row.broken
            continue
        after = _length(damaged, row.source, "S0")
        if row.broken:
            assert row.reroute_length_m == pytest.approx(after) or math.isinf(after)
        else:
            assert after == pytest.approx(row.length_m)


def test_a_circle_takes_down_segments_crossing_it_and_sites_inside() -> None:
    """A --s1-- B --s2-- C, a 300 m circle on B."""
    graph = make_graph(
        {"A": (0, 0, "datacentre"), "B": (1, 0), "C": (2, 0)},
        [("s1", "A", "B", 1000), ("s2", "B", "C", 1000)],
    )
    result = what_if(graph, area=circle(X0 + 1000, Y0, 300))
    assert result.cut_sites == ("B",)
    assert set(result.cut_segments) == {"s1", "s2"}
    assert result.sites_cut_off["code"].tolist() == ["C"]
    assert result.fibre_km_lost == pytest.approx(2 * 48 * 1.0)


def test_explicit_routes_are_checked_and_rerouted() -> None:
    """A --s1-- B --s2-- C and A --s3 (3 km)-- C; cut s2: A→C reroutes over s3."""
    graph = make_graph(
        {"A": (0, 0, "datacentre"), "B": (1, 0), "C": (2, 0)},
        [("s1", "A", "B", 1000), ("s2", "B", "C", 1000), ("s3", "A", "C", 3000)],
    )
    result = what_if(graph, segments=["s2"], routes=[("A", "C"), ("A", "B")])
    table = result.routes.set_index("target")
    assert table.loc["C", "broken"] and not table.loc["B", "broken"]
    assert table.loc["C", "stretch_pct"] == pytest.approx(50.0)
    assert table.loc["C", "reroute_min_free_fibres"] == 24


CORE = {"S0", "S1", "S2"}


def _without_disk(graph: nx.MultiGraph, centre: Point, radius: float) -> nx.MultiGraph:
    """A copy of the graph without the segments and sites the disk touches."""
    damaged = graph.copy()
    damaged.remove_edges_from(
        (u, v, k)
        for u, v, k, d in graph.edges(keys=True, data=True)
        if d["geometry"].distance(centre) <= radius
    )
    damaged.remove_nodes_from(
        [n for n, d in graph.nodes(data=True) if d["geometry"].distance(centre) <= radius]
    )
    return damaged


def _disk_damage(graph: nx.MultiGraph, centre: Point, radius: float) -> int:
    """Brute force: non-passive sites that lose the core when the disk fails."""
    return len(_reach(graph, CORE) - _reach(_without_disk(graph, centre, radius), CORE))


@pytest.mark.parametrize("seed", range(3))
def test_worst_disk_is_real_and_no_sampled_disk_beats_its_upper_bound(seed: int) -> None:
    """The reported disk does what it says; a dense scan of centres never exceeds the bound."""
    graph = random_graph(30, 36, seed)
    radius = 2500.0
    settings = NetworkSettings(passive_kinds=())
    worst = worst_disk_failure(graph, radius, settings=settings, core=sorted(CORE))
    assert 0 < worst.value < len(graph)
    assert _disk_damage(graph, worst.centre, radius) == worst.value
    assert len(worst.sites_lost) == worst.value
    xs = np.linspace(X0 - radius, X0 + 50_000 + radius, 45)
    ys = np.linspace(Y0 - radius, Y0 + 50_000 + radius, 45)
    scanned = max(_disk_damage(graph, Point(x, y), radius) for x in xs[::3] for y in ys[::3])
    assert scanned <= worst.upper_bound
    assert worst.value >= scanned or not worst.proven_optimal


def test_a_disk_of_zero_or_negative_radius_is_refused() -> None:
    """A --s1-- B; a negative buffer is an empty polygon: it would silently cut nothing."""
    graph = make_graph({"A": (0, 0, "datacentre"), "B": (1, 0)}, [("s1", "A", "B", 1000)])
    with pytest.raises(ValueError, match=r"radius_m -5\.0: expected a disk radius"):
        circle(X0, Y0, -5.0)
    with pytest.raises(ValueError, match="radius_m 0: expected a disk radius"):
        worst_disk_failure(graph, 0)


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("metric", ["sites", "fibre_km"])
def test_worst_disk_is_the_best_of_a_brute_force_scan_of_exact_evaluations(
    seed: int, metric: str
) -> None:
    """Every disk centred on the scan grid, evaluated by removing the elements it touches
    and recomputing reachability on the whole graph, does no more than the reported disk;
    the reported disk's damage is that brute-force figure."""
    graph = random_graph(40, 52, seed)
    radius = 4000.0
    settings = NetworkSettings(passive_kinds=(), disk_tolerance_m=10.0)
    worst = worst_disk_failure(graph, radius, metric=metric, settings=settings, core=sorted(CORE))
    assert worst.proven_optimal

    def brute(centre: Point) -> float:
        damaged = _without_disk(graph, centre, radius)
        lost = _reach(graph, CORE) - _reach(damaged, CORE)
        if metric == "sites":
            return float(len(lost))
        return sum(
            d["fibre_count"] * d["length_m"] / 1000
            for u, v, k, d in graph.edges(keys=True, data=True)
            if not damaged.has_edge(u, v, k) or (u in lost and v in lost)
        )

    assert brute(worst.centre) == pytest.approx(worst.value)
    xs = np.linspace(X0 - radius, X0 + 50_000 + radius, 24)
    ys = np.linspace(Y0 - radius, Y0 + 50_000 + radius, 24)
    assert max(brute(Point(x, y)) for x in xs for y in ys) <= worst.value + 1e-9


@pytest.mark.parametrize("seed", range(6))
def test_certified_loss_matches_relabelling_the_whole_network(seed: int) -> None:
    """The disk search's loss (tree certificate, subtrees as preorder runs, scratch masks
    reused from one failure to the next) against components recomputed from scratch, on
    tree-like and meshed networks, for failures of nested and disjoint subtrees."""
    graph = random_graph(60, 60 + 25 * (seed % 3), seed)
    index = graph_index(graph)
    core = np.asarray([index.node_id[c] for c in sorted(CORE)], dtype=np.int64)
    loss = CertifiedLoss(index, core)
    before = core_reach(index, core, np.empty(0, np.int64), np.empty(0, np.int64))
    rng = np.random.default_rng(seed)
    for _ in range(40):
        edges = np.unique(rng.choice(index.m, size=rng.integers(0, 6), replace=False))
        nodes = np.unique(rng.choice(index.n, size=rng.integers(0, 4), replace=False))
        lost, hit = loss.lost_and_hit(edges, nodes)
        after = core_reach(index, core, edges, nodes)
        expected = np.flatnonzero(before & ~after)
        assert lost.tolist() == np.union1d(expected, nodes[before[nodes]]).tolist()
        gone = np.zeros(index.n, dtype=bool)
        gone[lost] = True
        both_lost = np.flatnonzero(gone[index.src] & gone[index.dst])
        assert hit.tolist() == np.union1d(edges, both_lost).tolist()
