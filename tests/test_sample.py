"""The sample network: deterministic, realistic, built on real places, and loadable."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import pyogrio
import pytest
import shapely

from recor.sample import TOWNS, build_sample, write_sample


def _graph(delivery) -> nx.MultiGraph:
    graph = nx.MultiGraph()
    for row in delivery.segments.itertuples():
        graph.add_edge(row.site_a, row.site_b, key=row.code)
    return graph


def test_the_generator_is_deterministic():
    first, second = build_sample(), build_sample()
    assert first.segments.drop(columns="geometry").equals(second.segments.drop(columns="geometry"))
    assert first.segments.geometry.geom_equals_exact(second.segments.geometry, 0).all()
    assert (
        build_sample(5_000)
        .segments.geometry.geom_equals_exact(build_sample(5_000).segments.geometry, 0)
        .all()
    )


def test_the_sample_has_the_regions_towns_rings_and_single_points_of_failure():
    delivery = build_sample()
    assert 150 <= len(delivery.segments) <= 250
    kinds = set(delivery.sites["kind"])
    assert {"datacentre", "chaton", "pop", "public_site", "chamber"} <= kinds
    graph = _graph(delivery)
    assert nx.is_connected(graph)
    assert len(nx.cycle_basis(nx.Graph(graph))) >= 3
    assert "POP-DREUX" in set(nx.articulation_points(nx.Graph(graph))) or any(
        "POP-DREUX" in edge for edge in nx.bridges(nx.Graph(graph))
    )
    assert len(delivery.segment_risk_groups["risk_group_code"].unique()) >= 3
    assert (delivery.segments.geometry.length > 0).all()
    assert delivery.segments.geometry.is_valid.all()


def test_routes_follow_roads_not_straight_lines():
    segments = build_sample().segments
    long = segments[segments.geometry.length > 5_000]
    chords = shapely.distance(
        shapely.get_point(long.geometry.array, 0), shapely.get_point(long.geometry.array, -1)
    )
    assert (long.geometry.length.to_numpy() > chords * 1.01).mean() > 0.9
    assert shapely.get_num_coordinates(long.geometry.array).min() > 2


def test_segment_ends_lie_on_their_sites():
    delivery = build_sample(2_000)
    position = delivery.sites.set_index("code").geometry
    starts = shapely.get_point(delivery.segments.geometry.array, 0)
    ends = shapely.get_point(delivery.segments.geometry.array, -1)
    assert (shapely.distance(starts, position.loc[delivery.segments["site_a"]].array) < 0.01).all()
    assert (shapely.distance(ends, position.loc[delivery.segments["site_b"]].array) < 0.01).all()


def test_scaling_gives_exactly_the_number_of_segments_asked():
    delivery = build_sample(10_000)
    assert len(delivery.segments) == 10_000
    assert delivery.segments["code"].is_unique and delivery.sites["code"].is_unique
    assert nx.is_connected(_graph(delivery))


def test_written_files_hold_the_same_network(tmp_path):
    delivery = build_sample()
    paths = write_sample(delivery, tmp_path)
    layers = {name for name, _ in pyogrio.list_layers(paths["gpkg"])}
    assert layers == {"sites", "segments", "risk_groups", "segment_risk_groups"}
    segments = gpd.read_file(paths["shp"] / "segments.shp")
    assert segments.crs.to_epsg() == 2154
    assert sorted(segments["code"]) == sorted(delivery.segments["code"])
    sites = gpd.read_file(paths["gpkg"], layer="sites")
    assert "insee" in sites.columns
    assert "Châteauroux" in " ".join(sites["name"])


def test_towns_are_where_ign_admin_express_says(admin_cvl):
    communes = gpd.read_file(admin_cvl / "communes.geojson")
    points = gpd.GeoDataFrame(
        {"town": list(TOWNS), "insee": [v[0] for v in TOWNS.values()]},
        geometry=gpd.points_from_xy([v[2] for v in TOWNS.values()], [v[1] for v in TOWNS.values()]),
        crs=4326,
    )
    joined = gpd.sjoin(points, communes.to_crs(4326), predicate="within")
    assert len(joined) == len(TOWNS)
    assert (joined["insee"] == joined["code"]).all(), joined[joined["insee"] != joined["code"]]


@pytest.mark.db
def test_the_sample_loads_into_the_registry(sample_registry_url):
    from recor import registry

    with registry.connect(sample_registry_url, autocommit=True) as conn:
        assert len(registry.read_segments(conn)) == len(build_sample().segments)
