"""Field files: KML and GeoJSON in WGS84 of a route, a what-if or an area."""

from __future__ import annotations

import json

import pyogrio
import pytest
import shapely

from recor import network, registry
from recor.cli import main
from recor.export import area_features, read_snapshot, route_features, write_field
from tests.export.builders import UNKNOWN_COUNT_SEGMENTS, load, sample_with_unknowns
from tests.export.conftest import ogr_layers

pytestmark = pytest.mark.db

ROUTE = ("DC-ORLEANS", "DC-TOURS")
AREA_WKT = (
    "POLYGON((600000 6740000, 640000 6740000, 640000 6780000, 600000 6780000, 600000 6740000))"
)


def _export(url: str, out, *extra: str) -> None:
    assert main(["--database-url", url, "export", "field", str(out), *extra]) == 0


def test_route_kml_is_read_by_gdal_with_every_site_and_segment_in_order(
    sample_registry_url, tmp_path, ogrinfo
):
    out = tmp_path / "route.kml"
    _export(sample_registry_url, out, "--from", ROUTE[0], "--to", ROUTE[1])

    with registry.connect(sample_registry_url) as conn:
        sites, segments = registry.read_sites(conn), registry.read_segments(conn)
    route = network.shortest_path(network.build_graph(sites, segments), *ROUTE)
    assert ogr_layers(ogrinfo, out) == {"recor": len(route.sites) + len(route.segments)}
    read = pyogrio.read_dataframe(out)
    assert read.crs.to_epsg() == 4326
    placemarks = read[read["feature"] == "segment"]
    assert placemarks["code"].tolist() == list(route.segments)
    names = dict(zip(sites["code"], sites["name"], strict=True))
    assert names[ROUTE[0]] in set(read["Name"])
    assert set(read["status_label"]) >= {"En service"}


def test_route_geojson_is_wgs84_with_names_and_statuses(sample_registry_url, tmp_path):
    out = tmp_path / "route.geojson"
    _export(sample_registry_url, out, "--from", ROUTE[0], "--to", ROUTE[1])
    document = json.loads(out.read_text("utf-8"))
    assert "crs" not in document  # RFC 7946: WGS84 longitude, latitude
    for feature in document["features"]:
        lon, lat = shapely.geometry.shape(feature["geometry"]).representative_point().coords[0]
        assert 0 < lon < 3.5 and 46 < lat < 49
        assert feature["properties"]["name"] and feature["properties"]["status"]
    orders = [f["properties"]["order"] for f in document["features"]
              if f["properties"]["feature"] == "site"]  # fmt: skip
    assert orders == list(range(1, len(orders) + 1))


def test_whatif_exports_exactly_what_the_failure_cuts(sample_registry_url, tmp_path, ogrinfo):
    out = tmp_path / "whatif.kml"
    _export(sample_registry_url, out, "--circle", "620000,6750000,6000")
    with registry.connect(sample_registry_url) as conn:
        sites, segments = registry.read_sites(conn), registry.read_segments(conn)
    disk = shapely.Point(620000, 6750000).buffer(6000, quad_segs=32)
    result = network.what_if(network.build_graph(sites, segments), area=disk)
    read = pyogrio.read_dataframe(out)
    cut = read[read["impact"] == "coupé"]
    assert set(cut.loc[cut["feature"] == "segment", "code"]) == set(result.cut_segments)
    assert set(cut.loc[cut["feature"] == "site", "code"]) == set(result.cut_sites)
    isolated = read[read["impact"].fillna("").str.startswith("isolé")]
    assert set(isolated["code"]) == set(result.sites_cut_off["code"])
    assert (read["feature"] == "area").sum() == 1
    expected = len(result.cut_segments) + len(result.cut_sites) + len(result.sites_cut_off) + 1
    assert ogr_layers(ogrinfo, out) == {"recor": expected}


def test_area_export_matches_an_independent_intersection(conn, sample_delivery, tmp_path):
    load(conn, sample_with_unknowns(sample_delivery))
    area = shapely.from_wkt(AREA_WKT)
    snapshot = read_snapshot(conn)
    path = write_field(
        area_features(snapshot.sites, snapshot.segments, area), tmp_path / "a.geojson"
    )
    read = pyogrio.read_dataframe(path)
    segments = registry.read_segments(conn)
    sites = registry.read_sites(conn)
    assert set(read.loc[read["feature"] == "segment", "code"]) == set(
        segments.loc[segments.intersects(area), "code"]
    )
    assert set(read.loc[read["feature"] == "site", "code"]) == set(
        sites.loc[sites.within(area), "code"]
    )
    unknown = read[read["code"].isin(UNKNOWN_COUNT_SEGMENTS)]
    assert len(unknown) and unknown["fibre_count"].isna().all()
    assert unknown["description"].str.contains("capacité inconnue").all()


def test_route_features_keep_travel_order(sample_registry_url):
    with registry.connect(sample_registry_url) as conn:
        sites, segments = registry.read_sites(conn), registry.read_segments(conn)
    route = network.shortest_path(network.build_graph(sites, segments), *ROUTE)
    frame = route_features(route, sites, segments)
    assert frame.loc[frame["feature"] == "site", "code"].tolist() == list(route.sites)


def test_field_export_says_what_is_missing(sample_registry_url, tmp_path, capsys):
    out = tmp_path / "x.kml"
    assert main(["--database-url", sample_registry_url, "export", "field", str(out)]) == 2
    assert "--from A --to B" in capsys.readouterr().err
    args = ["--database-url", sample_registry_url, "export", "field", str(out), "--from", "X"]
    assert main(args) == 2
    assert "both --from and --to" in capsys.readouterr().err
    args = ["--database-url", sample_registry_url, "export", "field", str(tmp_path / "x.shp"),
            "--area", AREA_WKT]  # fmt: skip
    assert main(args) == 2
    assert ".kml or .geojson" in capsys.readouterr().err


def test_an_area_with_nothing_in_it_gives_only_the_area(sample_registry_url, tmp_path):
    empty = (
        "POLYGON((700000 6600000, 701000 6600000, 701000 6601000, 700000 6601000, 700000 6600000))"
    )
    out = tmp_path / "empty.geojson"
    _export(sample_registry_url, out, "--area", empty)
    features = json.loads(out.read_text("utf-8"))["features"]
    assert [f["properties"]["feature"] for f in features] == ["area"]
