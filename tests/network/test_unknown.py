"""Unknown is not zero: missing fibre counts and usage stay unknown through every analysis."""

from __future__ import annotations

import math

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import LineString, Point

from recor.network import (
    RouteConstraints,
    build_graph,
    optical_budget,
    routes_frame,
    shortest_path,
    unknown_free_segments,
    what_if,
    worst_disk_failure,
)


def _graph(counts: dict[str, tuple[object, object]]) -> object:
    """DC --s1-- A --s2-- B --s3-- DC  (a ring of 1 km segments), counts per segment."""
    where = {"DC": (0, 0), "A": (1, 0), "B": (1, 1)}
    sites = gpd.GeoDataFrame(
        [
            {
                "code": code,
                "name": None if code == "B" else f"Site {code}",
                "kind": "datacentre" if code == "DC" else "pop",
                "status": "in_service",
                "geometry": Point(620_000 + x * 1000, 6_750_000 + y * 1000),
            }
            for code, (x, y) in where.items()
        ],
        geometry="geometry",
        crs=2154,
    )
    ends = {"s1": ("DC", "A"), "s2": ("A", "B"), "s3": ("B", "DC")}
    point = dict(zip(sites["code"], sites.geometry, strict=True))
    segments = gpd.GeoDataFrame(
        [
            {
                "code": code,
                "site_a": a,
                "site_b": b,
                "fibre_count": counts[code][0],
                "fibres_used": counts[code][1],
                "status": "in_service",
                "installation": None,
                "geometry": LineString([point[a], point[b]]),
            }
            for code, (a, b) in ends.items()
        ],
        geometry="geometry",
        crs=2154,
    )
    for column in ("fibre_count", "fibres_used"):
        segments[column] = segments[column].astype("Int64")
    return build_graph(sites, segments)


KNOWN = (48, 8)


def test_unknown_usage_gives_unknown_free_fibres_never_the_fibre_count() -> None:
    graph = _graph({"s1": (288, pd.NA), "s2": (pd.NA, pd.NA), "s3": KNOWN})
    free = {key: d["free_fibres"] for *_, key, d in graph.edges(keys=True, data=True)}
    assert free == {"s1": None, "s2": None, "s3": 40}
    assert sorted(unknown_free_segments(graph)) == ["s1", "s2"]


def test_a_route_over_unknown_usage_says_its_bottleneck_is_unknown() -> None:
    graph = _graph({"s1": (288, pd.NA), "s2": KNOWN, "s3": (96, 90)})
    route = shortest_path(graph, "DC", "A")
    assert route.min_free_fibres is None
    assert route.unknown_free_segments == ("s1",)
    assert route.free_fibres_label() == "unknown (s1)"
    assert route.as_dict()["unknown_free_segments"] == ["s1"]
    frame = routes_frame([route])
    assert frame["min_free_fibres"].isna().all() and frame["unknown_free_segments"][0] == "s1"


def test_a_minimum_of_free_fibres_is_never_met_by_unknown_usage() -> None:
    """DC --s1 (usage unknown)-- A; the long way round has 6 free fibres."""
    graph = _graph({"s1": (288, pd.NA), "s2": KNOWN, "s3": (96, 90)})
    route = shortest_path(graph, "DC", "A", constraints=RouteConstraints(min_free_fibres=4))
    assert route.segments == ("s3", "s2") and route.min_free_fibres == 6
    with pytest.raises(Exception, match="1 segment\\(s\\) of unknown free fibres"):
        shortest_path(graph, "DC", "A", constraints=RouteConstraints(min_free_fibres=10))
    # a minimum of 0 asks nothing: the unknown segment may be used
    free_for_all = shortest_path(graph, "DC", "A", constraints=RouteConstraints(min_free_fibres=0))
    assert free_for_all.segments == ("s1",)


def test_optical_budget_states_what_it_assumes() -> None:
    graph = _graph({"s1": KNOWN, "s2": KNOWN, "s3": KNOWN})
    budget = optical_budget(
        shortest_path(graph, "DC", "B", constraints=RouteConstraints(avoid_segments=("s3",)))
    )
    assert budget.joints == 1
    assert any("splices inside segments are not recorded" in a for a in budget.assumptions)
    assert any("cable slack" in a for a in budget.assumptions)
    assert budget.as_dict()["assumptions"] == list(budget.assumptions)


def test_what_if_counts_known_fibre_km_and_names_the_unknown_km() -> None:
    graph = _graph({"s1": (pd.NA, pd.NA), "s2": (48, pd.NA), "s3": KNOWN})
    result = what_if(graph, segments=["s1"])
    assert result.fibre_km_lost == 0.0
    assert result.unknown_count_km_lost == pytest.approx(1.0)
    assert result.free_fibre_km_before == pytest.approx(40 * math.sqrt(2))
    assert result.unknown_free_km_before == pytest.approx(2.0)
    assert result.unknown_free_km_after == pytest.approx(1.0)
    reroute = result.routes.set_index("source").loc["A"]
    assert pd.isna(reroute["reroute_min_free_fibres"])
    assert reroute["reroute_unknown_free"] == ("s2",)


def test_worst_disk_names_the_km_of_unknown_fibre_count_it_takes() -> None:
    graph = _graph({"s1": (pd.NA, pd.NA), "s2": KNOWN, "s3": KNOWN})
    worst = worst_disk_failure(graph, 600.0, metric="fibre_km")
    assert worst.as_dict()["unknown_count_km_lost"] == pytest.approx(
        worst.unknown_count_km_lost, abs=1e-3
    )
    hit_unknown = "s1" in worst.segments_hit
    assert (worst.unknown_count_km_lost > 0) == hit_unknown
