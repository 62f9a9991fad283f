"""Independent paths to distinct core sites, on drawn topologies."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import shapely

from recor.maps.resilience import paths_to_distinct_core
from recor.network import build_graph, redundancy_report


def drawn(
    points: dict[str, tuple[float, float]],
    segments: list[tuple[str, str, str]],
    core: tuple[str, ...],
) -> nx.MultiGraph:
    sites = gpd.GeoDataFrame(
        [
            {
                "code": c,
                "name": c,
                "kind": "datacentre" if c in core else "pop",
                "status": "in_service",
                "geometry": shapely.Point(xy),
            }
            for c, xy in points.items()
        ],
        crs=2154,
    )
    lines = gpd.GeoDataFrame(
        [
            {
                "code": code,
                "site_a": a,
                "site_b": b,
                "status": "in_service",
                "fibre_count": 12,
                "geometry": shapely.LineString([points[a], points[b]]),
            }
            for code, a, b in segments
        ],
        crs=2154,
    )
    return build_graph(sites, lines)


def test_two_paths_to_the_same_datacentre_count_once() -> None:
    """
    ::

        X --s1-- A --s2-- D1 --s5-- D2
        X --s3-- B --s4-- D1

    Merged core: X has two node-disjoint paths (both into D1). Distinct core sites: one,
    since reaching D2 goes through D1.
    """
    points = {"X": (0, 0), "A": (1000, 1000), "B": (1000, -1000), "D1": (2000, 0), "D2": (3000, 0)}
    segments = [
        ("s1", "X", "A"),
        ("s2", "A", "D1"),
        ("s3", "X", "B"),
        ("s4", "B", "D1"),
        ("s5", "D1", "D2"),
    ]
    graph = drawn(points, segments, core=("D1", "D2"))
    merged = redundancy_report(graph, core=["D1", "D2"], level="node").sites.set_index("code")
    assert merged.loc["X", "node_paths"] == 2
    paths = paths_to_distinct_core(graph, ["D1", "D2"])
    assert paths["X"] == 1
    assert set(graph.nodes) == set(points)  # the input graph is left alone


def test_a_ring_through_two_datacentres_gives_two_paths() -> None:
    """
    ::

        D1 --s1-- X --s2-- D2
         \\                 /
          s3 -- Y ---- s4
    """
    points = {"D1": (0, 0), "X": (1000, 0), "D2": (2000, 0), "Y": (1000, -1000)}
    segments = [("s1", "D1", "X"), ("s2", "X", "D2"), ("s3", "D1", "Y"), ("s4", "Y", "D2")]
    paths = paths_to_distinct_core(drawn(points, segments, ("D1", "D2")), ["D1", "D2"])
    assert paths["X"] == 2 and paths["Y"] == 2
