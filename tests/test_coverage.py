"""Coverage analysis: checked on drawn cases, and against PostGIS on the real communes."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from recor import registry
from recor.config import MapSettings
from recor.coverage import band_column, coverage, grid_cells
from recor.maps.boundaries import read_boundaries
from recor.maps.coverage_map import coverage_map, summary_table
from recor.registry import BatchInfo, Delivery
from recor.registry.reference import read_reference, write_reference


def frames(sites: list[dict], segments: list[dict]) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    return gpd.GeoDataFrame(sites, crs=2154), gpd.GeoDataFrame(segments, crs=2154)


def square(code: str, x: float, y: float, side: float) -> dict:
    return {
        "code": code,
        "name": f"Commune {code}",
        "geometry": shapely.box(x, y, x + side, y + side),
    }


@pytest.fixture
def drawn() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Three 10 km communes side by side; an in-service line along the west edge of A.

    ::

        x=0        10 km      20 km      30 km
        |  A       |  B       |  C       |      line at x=0 from y=0 to y=10 km (in service)
        PoP at (0, 0); public site P (connected) inside A; a planned line crosses C
    """
    units = gpd.GeoDataFrame(
        [
            square("A", 600_000, 6_700_000, 10_000),
            square("B", 610_000, 6_700_000, 10_000),
            square("C", 620_000, 6_700_000, 10_000),
        ],
        crs=2154,
    )
    sites, segments = frames(
        [
            {
                "code": "POP",
                "name": "PoP",
                "kind": "pop",
                "status": "in_service",
                "geometry": shapely.Point(600_000, 6_700_000),
            },
            {
                "code": "N",
                "name": "Nord",
                "kind": "junction",
                "status": "in_service",
                "geometry": shapely.Point(600_000, 6_710_000),
            },
            {
                "code": "P",
                "name": "Mairie",
                "kind": "public_site",
                "status": "in_service",
                "geometry": shapely.Point(605_000, 6_705_000),
            },
            {
                "code": "Q1",
                "name": "q1",
                "kind": "junction",
                "status": "planned",
                "geometry": shapely.Point(625_000, 6_700_000),
            },
            {
                "code": "Q2",
                "name": "q2",
                "kind": "junction",
                "status": "planned",
                "geometry": shapely.Point(625_000, 6_710_000),
            },
        ],
        [
            {
                "code": "S1",
                "site_a": "POP",
                "site_b": "N",
                "status": "in_service",
                "fibre_count": 144,
                "geometry": shapely.LineString([(600_000, 6_700_000), (600_000, 6_710_000)]),
            },
            {
                "code": "S2",
                "site_a": "N",
                "site_b": "P",
                "status": "in_service",
                "fibre_count": 12,
                "geometry": shapely.LineString([(600_000, 6_710_000), (605_000, 6_705_000)]),
            },
            {
                "code": "S3",
                "site_a": "Q1",
                "site_b": "Q2",
                "status": "planned",
                "fibre_count": 48,
                "geometry": shapely.LineString([(625_000, 6_700_000), (625_000, 6_710_000)]),
            },
        ],
    )
    return units, sites, segments


def test_distances_shares_and_bands_of_drawn_communes(drawn) -> None:
    units, sites, segments = drawn
    result = coverage(
        units, sites, segments, settings=MapSettings(distance_bands_km=(1, 5, 10)), unit_kind="grid"
    )
    by_code = result.units.set_index("code")
    assert by_code["dist_network_m"].tolist() == pytest.approx([0.0, 5000.0, 15000.0])
    assert by_code["dist_presence_m"].tolist() == pytest.approx([0.0, 10000.0, 20000.0])
    # C is 15 km from the in-service network (the planned line through it does not count)
    assert by_code.loc["C", band_column(10)] == 0.0
    assert by_code.loc["C", "band"] == 3 and by_code.loc["B", "band"] == 1
    assert by_code.loc["A", band_column(10)] == pytest.approx(1.0)
    assert by_code["has_connected_public_site"].tolist() == [True, False, False]
    region = result.summary.set_index("code").loc["region"]
    assert region["km_in_service"] == pytest.approx(10 + 5 * np.sqrt(2))
    assert region["km_planned"] == pytest.approx(10)
    # PoP and public site P; the junction N is passive and not counted
    assert region["units_within_5km"] == 2 and region["sites_connected"] == 2


def test_grid_covers_the_network_extent_with_aligned_cells(drawn) -> None:
    _, _, segments = drawn
    cells = grid_cells(segments, 2000)
    assert shapely.area(cells.geometry.values).tolist() == [4e6] * len(cells)
    assert cells.union_all().covers(segments.union_all())
    assert len(cells) == 13 * 5  # x 600..626 km, y 6700..6710 km


def test_csv_files_carry_the_data_version(drawn, tmp_path) -> None:
    units, sites, segments = drawn
    paths = coverage(units, sites, segments, version="batch 7 (x)").write_csv(tmp_path)
    for path in paths.values():
        assert path.read_text().startswith("# recor coverage; data batch 7 (x)")


@pytest.mark.db
def test_coverage_agrees_with_postgis(conn, sample_delivery: Delivery, admin_cvl) -> None:
    registry.load_delivery(conn, sample_delivery, BatchInfo(profile="sample"))
    for kind in ("communes", "departements"):
        areas = read_boundaries(admin_cvl / f"{kind}.geojson", kind)
        write_reference(conn, areas, kind=kind, source_file=kind, sha256="-", source_crs="4326")
    communes = read_reference(conn, "communes")
    departements = read_reference(conn, "departements")
    result = coverage(
        communes, registry.read_sites(conn), registry.read_segments(conn), departements=departements
    )
    units = result.units.set_index("code")
    # a few communes: on the network, near it, far from it
    picks = [
        units["dist_network_m"].idxmin(),
        units["dist_network_m"].idxmax(),
        (units["dist_network_m"] - 3000).abs().idxmin(),
        (units[band_column(5.0)] - 0.5).abs().idxmin(),
    ]
    rows = conn.execute(
        """
        WITH net AS (SELECT ST_Union(geom) AS g FROM recor.segments
                     WHERE NOT retired AND status = 'in_service')
        SELECT c.code,
               (SELECT min(ST_Distance(c.geom, s.geom)) FROM recor.segments s
                 WHERE NOT s.retired AND s.status = 'in_service'),
               (SELECT min(ST_Distance(c.geom, s.geom)) FROM recor.sites s
                 WHERE NOT s.retired AND s.status = 'in_service'
                   AND s.kind IN ('pop', 'datacentre')),
               ST_Area(ST_Intersection(c.geom, ST_Buffer(net.g, 5000))) / ST_Area(c.geom)
        FROM recor.reference_areas c, net
        WHERE c.kind = 'communes' AND c.code = ANY(%s)
        """,
        (picks,),
    ).fetchall()
    assert len(rows) == len(set(picks))
    for code, dist_net, dist_pop, share5 in rows:
        assert units.loc[code, "dist_network_m"] == pytest.approx(dist_net, abs=0.01)
        assert units.loc[code, "dist_presence_m"] == pytest.approx(dist_pop, abs=0.01)
        assert units.loc[code, band_column(5.0)] == pytest.approx(share5, abs=1e-3)
    km = dict(
        conn.execute(
            """
        SELECT d.code, sum(ST_Length(ST_Intersection(s.geom, d.geom))) / 1000
        FROM recor.reference_areas d JOIN recor.segments s ON ST_Intersects(s.geom, d.geom)
        WHERE d.kind = 'departements' AND NOT s.retired AND s.status = 'in_service'
        GROUP BY d.code
        """
        ).fetchall()
    )
    summary = result.summary.set_index("code")
    for code, value in km.items():
        assert summary.loc[code, "km_in_service"] == pytest.approx(value, rel=1e-6)
    connected = conn.execute(
        """
        SELECT count(DISTINCT c.code) FROM recor.reference_areas c
        JOIN recor.sites p ON ST_Intersects(c.geom, p.geom)
        WHERE c.kind = 'communes' AND p.kind = 'public_site' AND p.status = 'in_service'
          AND NOT p.retired AND EXISTS (
            SELECT 1 FROM recor.segments s WHERE NOT s.retired AND s.status = 'in_service'
              AND p.id IN (s.site_a, s.site_b))
        """
    ).fetchone()[0]
    assert int(result.units["has_connected_public_site"].sum()) == connected


def test_map_table_calls_route_length_linear_not_fibre(drawn) -> None:
    """``km_in_service`` is route length (linéaire); fibre-km is another, far larger figure."""
    units, sites, segments = drawn
    table = summary_table(coverage(units, sites, segments, unit_kind="grid"))
    assert table["columns"][:2] == ["Territoire", "Linéaire en service (km)"]
    assert not any("Fibre" in column for column in table["columns"])


def test_grid_coverage_map_searches_cells_and_names_presence_kinds_in_french(drawn) -> None:
    """A grid map has no commune to search; its provenance speaks French."""
    units, sites, segments = drawn
    doc = coverage_map(coverage(units, sites, segments, unit_kind="grid"), segments)
    assert doc.search["label"] == "Rechercher une maille…"
    assert ("Points de présence", "point de présence, centre de données") in doc.provenance
