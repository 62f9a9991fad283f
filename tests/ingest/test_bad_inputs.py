"""Every bad input of the issue: a clear finding naming file, feature and field; nothing loaded."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pyogrio
import pytest
import shapely

from recor import registry
from recor.cli import main
from recor.config import ImportSettings
from recor.ingest.pipeline import import_paths, prepare_import
from tests.ingest.ingest_builders import A_XY, B_XY, C_XY, WriteDelivery, segment_frame, site_frame


def _rules(prepared) -> set[str]:
    return set(prepared.findings["rule"])


def _error(prepared, rule_id: str):
    rows = prepared.findings[prepared.findings["rule"] == rule_id]
    assert len(rows), prepared.findings.to_string()
    return rows.iloc[0]


@pytest.mark.parametrize("part", [".dbf", ".shx"])
def test_import_refuses_shapefile_with_missing_part(
    write_delivery: WriteDelivery, part: str
) -> None:
    folder = write_delivery()
    (folder / f"segments{part}").unlink()
    prepared = prepare_import([folder / "segments.shp"])
    row = _error(prepared, "SRC-SHP-PART")
    assert prepared.refused and row["file"] == "segments.shp" and row["field"] == part


def test_import_refuses_truncated_shp(write_delivery: WriteDelivery) -> None:
    folder = write_delivery()
    shp = folder / "segments.shp"
    shp.write_bytes(shp.read_bytes()[:-40])
    prepared = prepare_import([folder])
    assert prepared.refused and "SRC-SHP-TRUNCATED" in _rules(prepared)


def test_zip_with_parent_or_absolute_paths_is_refused_and_nothing_extracted(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../escaped.txt", "x")
        zf.writestr("/tmp/recor_absolute_escape.txt", "x")
        zf.writestr("ok/sites.csv", "code;x;y\nA;1;2\n")
    prepared = prepare_import([archive])
    unsafe = prepared.findings[prepared.findings["rule"] == "SRC-ZIP-UNSAFE"]
    assert prepared.refused and set(unsafe["value"]) == {
        "../escaped.txt",
        "/tmp/recor_absolute_escape.txt",
    }
    assert not (tmp_path.parent / "escaped.txt").exists()
    assert not Path("/tmp/recor_absolute_escape.txt").exists()


def test_zip_that_would_unpack_too_large_is_refused_before_extraction(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("livraison/segments.csv", b"0" * (3 * 2**20))  # 3 MB of zeros, ~3 kB zipped
    settings = ImportSettings(max_unzipped_mb=2)
    prepared = prepare_import([archive], settings=settings)
    assert prepared.refused and "SRC-ZIP-TOO-LARGE" in _rules(prepared)
    assert archive.stat().st_size < 20_000


def test_zip_of_a_good_delivery_imports(write_delivery: WriteDelivery, tmp_path: Path) -> None:
    folder = write_delivery()
    archive = tmp_path / "good.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in folder.iterdir():
            zf.write(file, f"livraison/{file.name}")
    prepared = prepare_import([archive])
    assert not prepared.refused, prepared.errors()
    assert len(prepared.delivery.segments) == 2


def test_missing_crs_refused_unless_crs_given(write_delivery: WriteDelivery) -> None:
    folder = write_delivery()
    for prj in folder.glob("*.prj"):
        prj.unlink()
    refused = prepare_import([folder])
    assert refused.refused and _error(refused, "CRS-MISSING")["file"].endswith(".shp")
    accepted = prepare_import([folder], crs=2154)
    assert not accepted.refused, accepted.errors()


def test_wrong_crs_coordinates_outside_region_refused(write_delivery: WriteDelivery) -> None:
    folder = write_delivery(sites=site_frame().set_crs(4326, allow_override=True))
    prepared = prepare_import([folder / "sites.shp"])
    row = _error(prepared, "CRS-EXTENT")
    assert prepared.refused and row["field"] == "geometry" and row["feature"] == 0
    # Lambert-93 metres read as degrees cannot be reprojected: say so, not "inf inf"
    assert row["value"] == "non reprojetable" and "mètres déclarées en degrés" in row["message"]


def test_degrees_declared_as_metres_refused_with_hint(write_delivery: WriteDelivery) -> None:
    sites = site_frame().to_crs(4326).set_crs(2154, allow_override=True)
    prepared = prepare_import([write_delivery(sites=sites) / "sites.shp"])
    assert "degrés" in _error(prepared, "CRS-EXTENT")["message"]


def test_reprojection_from_wgs84_keeps_positions(write_delivery: WriteDelivery) -> None:
    folder = write_delivery(sites=site_frame().to_crs(4326), segments=segment_frame().to_crs(4326))
    prepared = prepare_import([folder])
    assert not prepared.refused, prepared.errors()
    point = prepared.delivery.sites.geometry.iloc[0]
    assert point.distance(shapely.Point(A_XY)) < 0.01


def test_html_and_sql_metacharacters_are_kept_verbatim(write_delivery: WriteDelivery) -> None:
    nasty = "<script>alert('x')</script>'; DROP TABLE recor.sites; --"
    sites = site_frame(name=[nasty, "é", "b"])
    prepared = prepare_import([write_delivery(sites=sites)])
    assert not prepared.refused
    assert prepared.delivery.sites["name"].iloc[0] == nasty


@pytest.mark.parametrize(
    ("fibres", "used", "rule_id", "field"),
    [
        (["douze", "24"], ["0", "0"], "ATTR-TYPE", "fibres"),
        (["-4", "24"], ["0", "0"], "ATTR-RANGE", "fibre_count"),
        (["48", "24"], ["-1", "0"], "ATTR-RANGE", "fibres_used"),
        (["48", "24"], ["60", "0"], "ATTR-FIBRES-USED", "fibres_used"),
    ],
)
def test_bad_fibre_counts_are_refused_naming_the_feature(
    write_delivery: WriteDelivery, fibres: list, used: list, rule_id: str, field: str
) -> None:
    segments = segment_frame(fibres=fibres, fibres_use=used)
    prepared = prepare_import([write_delivery(segments=segments)])
    row = _error(prepared, rule_id)
    assert prepared.refused
    assert (row["file"], row["feature"], row["code"], row["field"]) == (
        "livraison/segments.shp", 0, "T-1", field,
    )  # fmt: skip


def test_duplicate_codes_refused(write_delivery: WriteDelivery) -> None:
    prepared = prepare_import([write_delivery(segments=segment_frame(code=["T-1", "T-1"]))])
    rows = prepared.findings[prepared.findings["rule"] == "ATTR-CODE-DUP"]
    assert prepared.refused and sorted(rows["feature"]) == [0, 1]


def test_empty_file_refused(write_delivery: WriteDelivery) -> None:
    folder = write_delivery()
    empty = segment_frame().iloc[:0]
    pyogrio.write_dataframe(empty, folder / "segments.shp")
    prepared = prepare_import([folder / "segments.shp"])
    assert prepared.refused and "SRC-EMPTY" in _rules(prepared)


def test_3d_geometries_are_flattened_with_a_warning(write_delivery: WriteDelivery) -> None:
    segments = segment_frame()
    segments["geometry"] = shapely.force_3d(segments.geometry.array, 85.0)
    prepared = prepare_import([write_delivery(segments=segments)])
    assert not prepared.refused and "GEOM-Z-DROPPED" in _rules(prepared)
    assert not prepared.delivery.segments.geometry.has_z.any()


def test_latin1_without_cpg_keeps_french_accents(write_delivery: WriteDelivery) -> None:
    sites = site_frame(name=["Châteauroux – œuvre", "Orléans", "Vierzon"])
    folder = write_delivery(sites=sites, encoding="cp1252")
    for cpg in folder.glob("*.cpg"):
        cpg.unlink()
    prepared = prepare_import([folder])
    assert not prepared.refused, prepared.errors()
    assert list(prepared.delivery.sites["name"].iloc[:2]) == ["Châteauroux – œuvre", "Orléans"]
    assert "SRC-ENCODING" in _rules(prepared)


def test_field_colliding_with_registry_column_refused(write_delivery: WriteDelivery) -> None:
    prepared = prepare_import([write_delivery(sites=site_frame(batch_id=[1, 2, 3]))])
    row = _error(prepared, "ATTR-FIELD-COLLISION")
    assert prepared.refused and row["field"] == "batch_id"


def test_ten_thousand_character_string_kept_and_longer_refused(
    write_delivery: WriteDelivery, tmp_path: Path
) -> None:
    limit = 10_000
    ok = site_frame(note=["x" * limit, "", ""])
    path = tmp_path / "sites.gpkg"
    pyogrio.write_dataframe(ok, path, layer="sites")
    prepared = prepare_import([path])
    assert not prepared.refused and prepared.delivery.sites["extra"].iloc[0]["note"] == "x" * limit
    pyogrio.write_dataframe(site_frame(note=["x" * (limit + 1), "", ""]), path, layer="sites")
    refused = prepare_import([path])
    assert _error(refused, "ATTR-TEXT-TOO-LONG")["field"] == "note"


def test_unmapped_columns_are_kept_in_extra(write_delivery: WriteDelivery) -> None:
    prepared = prepare_import([write_delivery(sites=site_frame(insee=["45234", "45284", "45147"]))])
    assert prepared.delivery.sites["extra"].iloc[0] == {"insee": "45234"}


def test_multipart_lines_merged_when_contiguous_else_refused(write_delivery: WriteDelivery) -> None:
    segments = segment_frame()
    mid = (619_500.0, 6_755_100.0)
    segments.loc[0, "geometry"] = shapely.MultiLineString([[A_XY, mid], [mid, B_XY]])
    prepared = prepare_import([write_delivery(segments=segments, name="merged")])
    assert not prepared.refused and "GEOM-MULTI-MERGED" in _rules(prepared)
    segments.loc[0, "geometry"] = shapely.MultiLineString(
        [[A_XY, mid], [(619_600.0, 6_755_000.0), B_XY]]
    )
    refused = prepare_import([write_delivery(segments=segments, name="broken")])
    assert _error(refused, "GEOM-MULTI-DISJOINT")["feature"] == 0


def test_ends_snapped_and_junction_created_where_segments_meet(tmp_path: Path) -> None:
    """A --T-1-- J(no site) --T-2-- B; T-1's end is 0.4 m off site A."""
    sites = site_frame().iloc[:2]
    j = (619_500.0, 6_754_000.0)
    segments = gpd.GeoDataFrame(
        {"code": ["T-1", "T-2"], "site_a": [None, None], "site_b": [None, None]},
        geometry=[shapely.LineString([(A_XY[0] + 0.4, A_XY[1]), j]), shapely.LineString([j, B_XY])],
        crs=2154,
    )
    pyogrio.write_dataframe(sites, tmp_path / "sites.gpkg", layer="sites")
    pyogrio.write_dataframe(segments, tmp_path / "sites.gpkg", layer="segments")
    prepared = prepare_import([tmp_path / "sites.gpkg"])
    assert not prepared.refused, prepared.errors()
    seg = prepared.delivery.segments.set_index("code")
    assert (
        seg.loc["T-1", "site_a"] == "S-A" and seg.loc["T-1", "site_b"] == seg.loc["T-2", "site_a"]
    )
    assert shapely.get_point(seg.loc["T-1", "geometry"], 0).equals(shapely.Point(A_XY))
    junction = prepared.delivery.sites.set_index("code").loc[seg.loc["T-1", "site_b"]]
    assert junction["kind"] == "junction"


def test_dangle_and_far_declared_site_refused(tmp_path: Path) -> None:
    segments = segment_frame()
    segments.loc[1, "site_b"] = None
    segments.loc[1, "geometry"] = shapely.LineString([B_XY, (620_000.0, 6_757_000.0)])
    segments.loc[0, "geometry"] = shapely.LineString([(A_XY[0], A_XY[1] + 5), B_XY])
    path = tmp_path / "d.gpkg"
    pyogrio.write_dataframe(site_frame(), path, layer="sites")
    pyogrio.write_dataframe(segments, path, layer="segments")
    prepared = prepare_import([path])
    dangle = _error(prepared, "TOPO-DANGLE")
    far = _error(prepared, "TOPO-END-OFF-SITE")
    assert (dangle["code"], dangle["field"]) == ("T-2", "site_b")
    assert (far["code"], far["field"]) == ("T-1", "site_a")


def test_crossing_without_node_is_reported(tmp_path: Path) -> None:
    sites = site_frame(code=["S-A", "S-B", "S-C"]).iloc[:2]
    extra = gpd.GeoDataFrame(
        {"code": ["S-D", "S-E"], "kind": ["chamber"] * 2},
        geometry=shapely.points([(619_500.0, 6_754_500.0), (619_500.0, 6_755_500.0)]), crs=2154,
    )  # fmt: skip
    all_sites = gpd.GeoDataFrame(
        gpd.pd.concat([sites, extra], ignore_index=True), geometry="geometry", crs=2154
    )
    segments = gpd.GeoDataFrame(
        {"code": ["X-1", "X-2"], "site_a": ["S-A", "S-D"], "site_b": ["S-B", "S-E"]},
        geometry=[
            shapely.LineString([A_XY, B_XY]),
            shapely.LineString([(619_500.0, 6_754_500.0), (619_500.0, 6_755_500.0)]),
        ],
        crs=2154,
    )
    path = tmp_path / "x.gpkg"
    pyogrio.write_dataframe(all_sites, path, layer="sites")
    pyogrio.write_dataframe(segments, path, layer="segments")
    prepared = prepare_import([path])
    assert _error(prepared, "TOPO-CROSSING")["message"].endswith("X-2")


def test_declared_length_mismatch_reported(tmp_path: Path) -> None:
    segments = segment_frame(declared_length=[1_470.0, 1_100.0])
    path = tmp_path / "l.gpkg"
    pyogrio.write_dataframe(site_frame(), path, layer="sites")
    pyogrio.write_dataframe(segments, path, layer="segments")
    prepared = prepare_import([path])
    row = _error(prepared, "GEOM-LENGTH-MISMATCH")
    assert row["code"] == "T-1" and not prepared.refused


def test_csv_with_wkt_and_xy(tmp_path: Path) -> None:
    (tmp_path / "sites.csv").write_text(
        "code;name;x;y\nS-A;Orléans;619000;6755000\nS-B;Saran;620000;6755000\n", encoding="utf-8"
    )
    (tmp_path / "segments.csv").write_text(
        'code,site_a,site_b,wkt\nT-1,S-A,S-B,"LINESTRING (619000 6755000, 620000 6755000)"\n',
        encoding="utf-8",
    )
    prepared = prepare_import([tmp_path / "sites.csv", tmp_path / "segments.csv"], crs=2154)
    assert not prepared.refused, prepared.errors()
    assert len(prepared.delivery.segments) == 1


@pytest.mark.db
@pytest.mark.parametrize(
    "spoil",
    ["used_over_count", "missing_dbf", "no_crs", "duplicate_codes"],
)
def test_refused_delivery_leaves_registry_exactly_as_before(
    conn, write_delivery: WriteDelivery, spoil: str
) -> None:
    first = import_paths(conn, [write_delivery(name="v1")])
    assert first.loaded
    before = (registry.read_sites(conn), registry.read_segments(conn), registry.list_batches(conn))
    segments = segment_frame(fibres=[96, 24])
    if spoil == "used_over_count":
        segments = segment_frame(fibres_use=[100, 0])
    if spoil == "duplicate_codes":
        segments = segment_frame(code=["T-1", "T-1"])
    folder = write_delivery(segments=segments, name="v2")
    if spoil == "missing_dbf":
        (folder / "segments.dbf").unlink()
    if spoil == "no_crs":
        (folder / "segments.prj").unlink()
    result = import_paths(conn, [folder])
    assert result.refused and not result.loaded
    after = (registry.read_sites(conn), registry.read_segments(conn), registry.list_batches(conn))
    for old, new in zip(before, after, strict=True):
        assert old.drop(columns=["extra", "risk_groups"], errors="ignore").equals(
            new.drop(columns=["extra", "risk_groups"], errors="ignore")
        )


def test_chunked_reading_keeps_feature_indexes(write_delivery: WriteDelivery) -> None:
    segments = segment_frame(code=["T-1", "T-1"], fibres=[48, -2])
    folder = write_delivery(segments=segments)
    prepared = prepare_import([folder], settings=ImportSettings(chunk_size=1))
    rows = prepared.findings
    assert sorted(rows[rows["rule"] == "ATTR-CODE-DUP"]["feature"]) == [0, 1]
    assert list(rows[rows["rule"] == "ATTR-RANGE"]["feature"]) == [1]
    assert len(prepared.delivery.sites) == 3


def test_t_junction_without_node_is_reported(tmp_path: Path) -> None:
    """S-A --X-1-- S-B, and X-2 from S-D ends on X-1's middle (S-T) without splitting it."""
    t = (619_500.0, 6_755_000.0)
    sites = gpd.GeoDataFrame(
        {"code": ["S-A", "S-B", "S-D", "S-T"], "kind": ["chamber"] * 4},
        geometry=shapely.points([A_XY, B_XY, (619_500.0, 6_754_500.0), t]),
        crs=2154,
    )
    segments = gpd.GeoDataFrame(
        {"code": ["X-1", "X-2"], "site_a": ["S-A", "S-D"], "site_b": ["S-B", "S-T"]},
        geometry=[
            shapely.LineString([A_XY, B_XY]),
            shapely.LineString([(619_500.0, 6_754_500.0), t]),
        ],
        crs=2154,
    )
    path = tmp_path / "t.gpkg"
    pyogrio.write_dataframe(sites, path, layer="sites")
    pyogrio.write_dataframe(segments, path, layer="segments")
    prepared = prepare_import([path])
    row = _error(prepared, "TOPO-CROSSING")
    assert {row["code"], row["message"][-3:]} == {"X-1", "X-2"}


def test_duplicate_and_overlapping_segments_reported(tmp_path: Path) -> None:
    """T-1 and T-9 both run A → B on the same course; T-8 shares T-1's first half."""
    mid = (619_500.0, 6_755_100.0)
    segments = segment_frame()
    extra = segment_frame(code=["T-9", "T-8"], site_a=["S-A", "S-A"], site_b=["S-B", "S-C"])
    extra.loc[1, "geometry"] = shapely.LineString([A_XY, mid, (619_600.0, 6_755_800.0), C_XY])
    both = gpd.GeoDataFrame(gpd.pd.concat([segments, extra], ignore_index=True), crs=2154)
    path = tmp_path / "dup.gpkg"
    pyogrio.write_dataframe(site_frame(), path, layer="sites")
    pyogrio.write_dataframe(both, path, layer="segments")
    prepared = prepare_import([path])
    duplicates = prepared.findings[prepared.findings["rule"] == "TOPO-DUPLICATE"]
    assert set(duplicates["code"]) == {"T-1", "T-9"}
    overlap = _error(prepared, "TOPO-OVERLAP")
    assert {overlap["code"], overlap["message"][-3:]} in ({"T-1", "T-8"}, {"T-9", "T-8"})


def test_layer_option_reads_only_that_layer(tmp_path: Path) -> None:
    path = tmp_path / "l.gpkg"
    pyogrio.write_dataframe(site_frame(), path, layer="sites")
    pyogrio.write_dataframe(segment_frame(), path, layer="segments")
    prepared = prepare_import([path], layer="sites")
    assert len(prepared.delivery.sites) == 3 and len(prepared.delivery.segments) == 0


@pytest.mark.db
def test_metacharacters_and_long_text_are_stored_verbatim(conn, tmp_path: Path) -> None:
    nasty = "<img src=x onerror=alert(1)>'); DELETE FROM recor.sites; --"
    long_text = "é" * 10_000
    sites = site_frame(name=[nasty, "b", "c"], remarque=[long_text, "", ""])
    path = tmp_path / "s.gpkg"
    pyogrio.write_dataframe(sites, path, layer="sites")
    pyogrio.write_dataframe(segment_frame(), path, layer="segments")
    assert import_paths(conn, [path]).loaded
    stored = registry.read_sites(conn).set_index("code").loc["S-A"]
    assert stored["name"] == nasty and stored["extra"]["remarque"] == long_text


def test_crossing_is_located_at_the_crossing_not_at_the_shared_site(tmp_path: Path) -> None:
    """X-1 (drawn S-B → S-A) and X-2 both end at S-A; X-2 dips south, then crosses X-1.

    S-B ------X-1------ S-A, X-2 from S-A to S-C crossing X-1 at (620250, 6755000).
    """
    b, c = (621_000.0, 6_755_000.0), (621_000.0, 6_755_500.0)
    sites = gpd.GeoDataFrame(
        {"code": ["S-A", "S-B", "S-C"], "kind": ["chamber"] * 3},
        geometry=shapely.points([A_XY, b, c]),
        crs=2154,
    )
    segments = gpd.GeoDataFrame(
        {"code": ["X-1", "X-2"], "site_a": ["S-B", "S-A"], "site_b": ["S-A", "S-C"]},
        geometry=[
            shapely.LineString([b, A_XY]),
            shapely.LineString([A_XY, (620_000.0, 6_754_800.0), (620_500.0, 6_755_200.0), c]),
        ],
        crs=2154,
    )
    path = tmp_path / "x.gpkg"
    pyogrio.write_dataframe(sites, path, layer="sites")
    pyogrio.write_dataframe(segments, path, layer="segments")
    row = _error(prepare_import([path]), "TOPO-CROSSING")
    assert row["value"] == "620250.0 6755000.0"


def test_empty_delivery_names_its_files_and_the_ignored_layers(tmp_path: Path) -> None:
    """A layer of polygons matches no entity: the refusal says which file and why."""
    path = tmp_path / "zones.geojson"
    zones = gpd.GeoDataFrame({"code": ["Z-1"]}, geometry=[shapely.box(*A_XY, *C_XY)], crs=2154)
    pyogrio.write_dataframe(zones, path)
    row = _error(prepare_import([path]), "SRC-EMPTY")
    assert row["file"] == "zones.geojson"
    assert "couches ignorées : zones.geojson" in row["message"]


def test_ignored_layer_says_in_french_why(tmp_path: Path) -> None:
    """A CSV without coordinates is a table without geometry: the warning says so."""
    path = tmp_path / "equipements.csv"
    path.write_text("code;name\nS-1;Orléans\n", encoding="utf-8")
    findings = prepare_import([path], crs="2154").findings
    ignored = findings[findings["rule"] == "SRC-LAYER-IGNORED"].iloc[0]
    assert "(sans géométrie)" in ignored["message"]


def test_csv_unreadable_coordinate_names_its_column_and_value(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_text(
        "code;name;x;y\nS-A;Orléans;619000,5;6755000\nS-B;Saran;abc;6755000\n", encoding="utf-8"
    )
    findings = prepare_import([path], crs="2154").findings
    row = findings[(findings["rule"] == "GEOM-NULL") & (findings["field"] == "x")].iloc[0]
    assert (row["code"], row["feature"], row["value"]) == ("S-B", 1, "abc")


def test_duplicate_code_across_files_names_the_other_occurrence(
    write_delivery: WriteDelivery,
) -> None:
    """The same delivery sent twice (a/ and b/): each S-A names the other file's S-A."""
    first, second = write_delivery(name="a"), write_delivery(name="b")
    findings = prepare_import([first, second]).findings
    dups = findings[(findings["rule"] == "ATTR-CODE-DUP") & (findings["code"] == "S-A")]
    messages = dict(zip(dups["file"], dups["message"], strict=True))
    assert messages["a/sites.shp"].endswith("l'entité 0 de b/sites.shp")
    assert messages["b/sites.shp"].endswith("l'entité 0 de a/sites.shp")


# --- Hostile and broken deliveries (issue 9): every one is a refusal with a report -------------


def _with_line(row: int, coords: list[tuple[float, float]]) -> gpd.GeoDataFrame:
    segments = segment_frame()
    geoms = segments.geometry.to_numpy().copy()
    geoms[row] = shapely.LineString(coords)
    return segments.set_geometry(gpd.GeoSeries(geoms, crs=segments.crs))


def _shp(tmp_path: Path, name: str = "livraison", **frames) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for layer, build in (("sites", site_frame), ("segments", segment_frame)):
        frame = frames.get(layer, build())
        pyogrio.write_dataframe(frame, folder / f"{layer}.shp", encoding="UTF-8")
    return folder


def _zip_of(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(folder.iterdir()):
            zf.write(file, f"livraison/{file.name}")
    return target


def _geojson(
    path: Path, properties: str, geometry: str = '{"type":"Point","coordinates":[1.9,47.9]}'
):
    path.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
        + properties
        + ',"geometry":'
        + geometry
        + "}]}",
        encoding="utf-8",
    )
    return path


def _dbf_byte_flip(tmp_path: Path) -> list[str]:
    folder = _shp(tmp_path, sites=site_frame(name=["Orléans é", "b", "c"]))
    dbf = folder / "sites.dbf"
    data = bytearray(dbf.read_bytes())
    data[data.index("é".encode())] = 0xFF
    dbf.write_bytes(bytes(data))
    return [str(folder)]


def _dbf_truncated(tmp_path: Path) -> list[str]:
    folder = _shp(tmp_path)
    dbf = folder / "sites.dbf"
    dbf.write_bytes(dbf.read_bytes()[:-60])  # the header still announces 3 records
    return [str(folder)]


def _zip_bad_crc(tmp_path: Path) -> list[str]:
    archive = tmp_path / "crc.zip"
    with zipfile.ZipFile(archive, "w") as zf:  # stored: the flipped byte reaches the CRC check
        for file in sorted(_shp(tmp_path).iterdir()):
            zf.write(file, file.name)
    data = bytearray(archive.read_bytes())
    data[data.index("Orléans".encode())] ^= 0x20
    archive.write_bytes(bytes(data))
    return [str(archive)]


def _zip_bad_magic(tmp_path: Path) -> list[str]:
    archive = _zip_of(_shp(tmp_path), tmp_path / "magic.zip")
    data = bytearray(archive.read_bytes())
    data[0:4] = b"XXXX"  # the first local header's signature
    archive.write_bytes(bytes(data))
    return [str(archive)]


def _zip_encrypted(tmp_path: Path) -> list[str]:
    archive = _zip_of(_shp(tmp_path), tmp_path / "enc.zip")
    data = bytearray(archive.read_bytes())
    for signature, flag in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        while at >= 0:
            data[at + flag] |= 0x1
            at = data.find(signature, at + 4)
    archive.write_bytes(bytes(data))
    return [str(archive)]


def _zip_bomb(tmp_path: Path) -> list[str]:
    archive = tmp_path / "bomb.zip"
    with (
        zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf,
        zf.open("livraison/sites.csv", "w") as member,
    ):
        for _ in range(100):  # 100 MB of zeros, about 100 kB zipped
            member.write(b"0" * (1 << 20))
    return [str(archive)]


def _csv(tmp_path: Path, text: str, name: str = "sites.csv") -> list[str]:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return [str(path), "--crs", "2154"]


def _fifo(tmp_path: Path) -> list[str]:
    folder = _shp(tmp_path)
    os.mkfifo(folder / "sites.csv")
    return [str(folder)]


def _link_out(tmp_path: Path) -> list[str]:
    folder = _shp(tmp_path)
    (folder / "passwd.csv").symlink_to("/etc/passwd")
    return [str(folder)]


def _profile(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "profil.yaml"
    path.write_text(text, encoding="utf-8")
    return [str(_shp(tmp_path)), "--profile", str(path)]


def _billion_laughs() -> str:
    text, previous = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n', "a"
    for name in "bcdefghi":
        text += f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]\n"
        previous = name
    return text + "name: *i\n"


def _dbf_nul(tmp_path: Path) -> list[str]:
    folder = _shp(tmp_path, sites=site_frame(name=["AxB", "b", "c"]))
    dbf = folder / "sites.dbf"
    data = bytearray(dbf.read_bytes())
    data[data.index(b"AxB") + 1] = 0
    dbf.write_bytes(bytes(data))
    return [str(folder)]


def _gpkg_escape(tmp_path: Path) -> list[str]:
    path = tmp_path / "livraison.gpkg"
    pyogrio.write_dataframe(site_frame(name=["a", "\x1b[2J efface", "c"]), path, layer="sites")
    pyogrio.write_dataframe(segment_frame(), path, layer="segments")
    return [str(path)]


_DEEP = "[" * 100_000 + "]" * 100_000

#: (class, builder, rule, file ends with, feature, field) — every one must be refused.
HOSTILE = [
    ("dbf byte flip (UTF-8)", _dbf_byte_flip, "SRC-ENCODING-INVALID", "sites.shp", 0, "name"),
    ("dbf truncated, header intact", _dbf_truncated, "SRC-SHP-TRUNCATED", "sites.shp", 2, "octet"),
    (".cpg naming no encoding", lambda t: _cpg(t, "KLINGON"), "SRC-ENCODING-INVALID", "sites.shp",
     -1, ".cpg"),
    ("zip bad CRC", _zip_bad_crc, "SRC-ZIP-CORRUPT", "crc.zip", -1, ""),
    ("zip bad magic", _zip_bad_magic, "SRC-ZIP-CORRUPT", "magic.zip", -1, ""),
    ("zip encrypted member", _zip_encrypted, "SRC-ZIP-ENCRYPTED", "enc.zip", -1, "member"),
    ("zip bomb (100 MB of zeros)", _zip_bomb, "SRC-ZIP-TOO-LARGE", "bomb.zip", -1, ""),
    ("csv row too long", lambda t: _csv(t, "code;x;y\nA;619000;6755000\nB;620000;6755000;9;9\n"),
     "SRC-CSV-ROW", "sites.csv", 1, "ligne"),
    ("csv row too short", lambda t: _csv(t, "code;x;y\nA;619000;6755000\nB;620000\n"),
     "SRC-CSV-ROW", "sites.csv", 1, "ligne"),
    ("csv empty", lambda t: _csv(t, ""), "SRC-EMPTY", "sites.csv", -1, ""),
    ("csv unclosed quote", lambda t: _csv(t, 'code;name;x;y\nA;"Orl;619000;6755000\nB;b;1;2\n'),
     "SRC-CSV-ROW", "sites.csv", -1, "ligne"),
    ("csv empty WKT cell", lambda t: _csv(t, "code;wkt\nA;\nB;POINT (620000 6755000)\n"),
     "GEOM-NULL", "sites.csv", 0, "geometry"),
    ("WKT nested 100,000 deep", lambda t: _csv(
        t, "code;wkt\nA;" + "GEOMETRYCOLLECTION (" * 100_000 + "POINT (1 2)" + ")" * 100_000 + "\n"
    ), "GEOM-NULL", "sites.csv", 0, "wkt"),
    ("one-vertex line", lambda t: [str(_geojson(
        t / "segments.geojson", '{"code":"T"}', '{"type":"LineString","coordinates":[[1.9,47.9]]}'
    ))], "GEOM-INVALID", "segments.geojson", 0, "geometry"),
    ("infinite coordinate", lambda t: _csv(t, "code;wkt\nA;POINT (Infinity 6755000)\n"),
     "CRS-EXTENT", "sites.csv", 0, "geometry"),
    ("line with a vertex near the largest double (its length overflows)", lambda t: [str(_shp(
        t, segments=_with_line(1, [(620_000.0, 6_755_000.0), (1.7e308, 6_755_000.0)])
    ))], "CRS-EXTENT", "segments.shp", 1, "geometry"),
    ("NaN coordinate", lambda t: [str(_geojson(
        t / "sites.geojson", '{"code":"A"}', '{"type":"Point","coordinates":[NaN, 47.9]}'
    ))], "GEOM-NON-FINITE", "sites.geojson", 0, "geometry"),
    ("GeoJSON nested 100,000 deep", lambda t: [str(_geojson(
        t / "sites.geojson", '{"code":"A","x":' + _DEEP + "}"
    ))], "SRC-TOO-DEEP", "sites.geojson", -1, "octet"),
    ("JSON string nested 100,000 deep", lambda t: _csv(
        t, f"code;x;y;extra\nA;619000;6755000;{_DEEP}\n"
    ), "ATTR-TYPE", "sites.csv", 0, "extra"),
    ("profile of the wrong shape", lambda t: _profile(t, "name: p\nlayers: [1, 2]\n"),
     "SRC-PROFILE", "profil.yaml", -1, "profile"),
    ("billion laughs profile", lambda t: _profile(t, _billion_laughs()), "SRC-PROFILE",
     "profil.yaml", -1, "profile"),
    ("FIFO in the delivery", _fifo, "SRC-SPECIAL-FILE", "sites.csv", -1, ""),
    ("symlink out of the delivery", _link_out, "SRC-SPECIAL-FILE", "passwd.csv", -1, ""),
    ("fibre count beyond 32 bits", lambda t: [str(_shp(
        t, segments=segment_frame(fibres=[99_999_999_999, 24])
    ))], "ATTR-RANGE", "segments.shp", 0, "fibres"),
    ("columns Name and name", lambda t: [str(_geojson(
        t / "sites.geojson", '{"code":"A","name":"a","Name":"B"}'
    ))], "ATTR-FIELD-DUP", "sites.geojson", -1, "Name"),
    ("NUL in a GeoJSON text", lambda t: [str(_geojson(
        t / "sites.geojson", '{"code":"A","name":"A\\u0000B"}'
    ))], "ATTR-CONTROL-CHAR", "sites.geojson", 0, "name"),
    ("NUL in a dbf text", _dbf_nul, "ATTR-CONTROL-CHAR", "sites.shp", 0, "name"),
    ("NUL in a CSV text", lambda t: _csv(t, "code;name;x;y\nA;A\x00B;619000;6755000\n"),
     "ATTR-CONTROL-CHAR", "sites.csv", 0, "name"),
    ("escape sequence in a GeoPackage text", _gpkg_escape, "ATTR-CONTROL-CHAR",
     "livraison.gpkg!sites", 1, "name"),
]  # fmt: skip


def _cpg(tmp_path: Path, encoding: str) -> list[str]:
    folder = _shp(tmp_path)
    (folder / "sites.cpg").write_text(encoding, encoding="ascii")
    return [str(folder)]


@pytest.fixture
def no_hang() -> Iterator[None]:
    """Fail (instead of hanging the suite) when one import takes more than 60 s."""

    def timeout(*_: object) -> None:
        raise TimeoutError("the import hung")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.db
@pytest.mark.parametrize(
    ("build", "rule_id", "file", "feature", "field"),
    [case[1:] for case in HOSTILE],
    ids=[case[0] for case in HOSTILE],
)
def test_hostile_delivery_is_refused_with_a_report_and_nothing_written(
    registry_url: str, tmp_path: Path, no_hang: None, build, rule_id, file, feature, field,
    capsys: pytest.CaptureFixture,
) -> None:  # fmt: skip
    argv = build(tmp_path)
    report = tmp_path / "rapport.html"
    code = main(
        ["--database-url", registry_url, "import", *argv, "--quiet", "--report", str(report)]
    )
    assert code == 1, capsys.readouterr().err
    assert "Livraison refusée" in report.read_text(encoding="utf-8")
    rows = pd.read_csv(report.with_suffix(".csv"), sep=";", encoding="utf-8-sig", dtype=str,
                       keep_default_na=False)  # fmt: skip
    match = rows[(rows["rule"] == rule_id) & (rows["severity"] == "error")]
    assert len(match), rows.to_string()
    first = match.iloc[0]
    assert first["file"].endswith(file) and int(first["feature"]) == feature, first.to_dict()
    assert first["field"] == field, first.to_dict()
    assert "Traceback" not in capsys.readouterr().err
    with registry.connect(registry_url, autocommit=True) as conn:
        assert not len(registry.list_batches(conn)) and not len(registry.read_sites(conn))


def test_latin1_dbf_without_cpg_is_read_as_latin1(tmp_path: Path) -> None:
    """A byte undefined in Windows-1252 makes the table Latin-1; GDAL must be told so."""
    folder = tmp_path / "latin1"
    folder.mkdir()
    sites = site_frame(name=["Orléans\x81", "Bourges", "Blois"])
    pyogrio.write_dataframe(sites, folder / "sites.shp", encoding="ISO-8859-1")
    pyogrio.write_dataframe(segment_frame(), folder / "segments.shp")
    (folder / "sites.cpg").unlink()
    prepared = prepare_import([folder])
    assert not prepared.refused, prepared.errors()
    assert prepared.delivery.sites.set_index("code").loc["S-A", "name"] == "Orléans\x81"
    assert _error(prepared, "SRC-ENCODING")["value"] == "latin-1"


def test_a_million_to_one_zip_is_refused_before_extraction_in_little_memory(
    tmp_path: Path,
) -> None:
    """A 1 MB zip of 1 GiB of zeros: refused from its declared sizes, in a child process."""
    archive = tmp_path / "bomb.zip"
    with (
        zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf,
        zf.open("livraison/segments.csv", "w", force_zip64=True) as member,
    ):
        for _ in range(1024):
            member.write(b"0" * (1 << 20))
    assert archive.stat().st_size < 2 << 20
    script = (
        "import resource, sys\n"
        "from recor.ingest.pipeline import prepare_import\n"
        "p = prepare_import([sys.argv[1]])\n"
        "print(sorted(set(p.findings['rule'])), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-c", script, str(archive)], capture_output=True, text=True, env=env,
        timeout=120, check=True,
    )  # fmt: skip
    rules, peak_kb = done.stdout.rsplit(" ", 1)
    assert "SRC-ZIP-TOO-LARGE" in rules
    assert int(peak_kb) < 400 * 1024  # the interpreter and its libraries, not the archive


def test_zip_member_names_are_checked_for_specials_and_duplicates(tmp_path: Path) -> None:
    archive = tmp_path / "specials.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        fifo = zipfile.ZipInfo("livraison/pipe.csv")
        fifo.external_attr = (stat.S_IFIFO | 0o644) << 16
        zf.writestr(fifo, "")
        zf.writestr("livraison/sites.csv", "code;x;y\n")
        zf.writestr("livraison/SITES.csv", "code;x;y\n")
    prepared = prepare_import([archive])
    unsafe = prepared.findings[prepared.findings["rule"] == "SRC-ZIP-UNSAFE"]
    assert set(unsafe["value"]) == {"livraison/pipe.csv", "livraison/SITES.csv"}
    assert prepared.refused


def test_file_names_with_uri_characters_are_read(tmp_path: Path) -> None:
    """pyogrio reads paths as URIs: ``a;b.shp`` would open ``a``."""
    folder = _shp(tmp_path, name="x;y")
    for part in list(folder.iterdir()):  # still named by the profile's ``sites_*`` rule
        part.rename(folder / part.name.replace("sites", "sites_a;b#c"))
    gpkg = tmp_path / "a;b!c.gpkg"
    pyogrio.write_dataframe(site_frame(), tmp_path / "plain.gpkg", layer="sites")
    (tmp_path / "plain.gpkg").rename(gpkg)
    for paths in ([folder], [gpkg]):
        prepared = prepare_import(paths)
        assert len(prepared.delivery.sites) == 3, prepared.errors()


def test_symlink_inside_the_delivery_is_followed(tmp_path: Path) -> None:
    folder = _shp(tmp_path)
    (folder / "copie").mkdir()
    for part in folder.glob("sites.*"):
        part.rename(folder / "copie" / part.name)
        (folder / part.name.replace("sites", "lien")).symlink_to(folder / "copie" / part.name)
    prepared = prepare_import([folder])
    assert "SRC-SPECIAL-FILE" not in _rules(prepared)
    # read through the link: the same sites twice, under both names
    assert "livraison/lien.shp" in set(prepared.findings["file"])


def test_hundred_thousand_sites_at_one_point_are_reported(tmp_path: Path) -> None:
    n = 100_000
    sites = gpd.GeoDataFrame(
        {"code": [f"S{i}" for i in range(n)], "kind": ["chamber"] * n},
        geometry=shapely.points(np.full((n, 2), A_XY)), crs=2154,
    )  # fmt: skip
    path = tmp_path / "pile.gpkg"
    pyogrio.write_dataframe(sites, path, layer="sites")
    findings = prepare_import([path]).findings
    stacked = findings[findings["rule"] == "TOPO-SITE-STACKED"]
    assert len(stacked) == n and stacked.iloc[0]["message"].startswith("100000 sites")


@pytest.mark.db
def test_report_in_the_delivery_folder_does_not_break_the_next_import(
    registry_url: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = _shp(tmp_path)
    argv = ["--database-url", registry_url, "import", str(folder), "--json"]
    assert main([*argv, "--report", str(folder / "rapport.html")]) == 0
    assert (folder / "rapport.csv").exists() and (folder / "rapport.html").exists()
    capsys.readouterr()
    assert main(argv) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["status"] == "unchanged"
    assert any(f["rule"] == "SRC-REPORT-SKIPPED" for f in again["findings"])
    html = (folder / "rapport.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")


@pytest.mark.db
def test_connection_lost_during_the_registry_lookup_is_a_refusal(
    registry_url: str, tmp_path: Path
) -> None:
    folder = _shp(tmp_path)
    with registry.connect(registry_url, autocommit=True) as conn:
        pid = conn.info.backend_pid
        with psycopg.connect(registry_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        result = import_paths(conn, [folder])
    assert result.refused
    row = result.prepared.findings.iloc[0]
    assert row["rule"] == "REG-UNAVAILABLE" and row["file"] == "livraison"
    with registry.connect(registry_url, autocommit=True) as conn:
        assert not len(registry.list_batches(conn))


@pytest.mark.db
def test_reference_import_of_a_table_without_geometry_is_refused(
    registry_url: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    table = tmp_path / "communes.csv"
    table.write_text("code;nom\n45234;Orléans\n", encoding="utf-8")
    argv = ["--database-url", registry_url, "reference", "import", str(table), "--kind", "communes"]
    assert main(argv) == 1
    assert "no geometry" in capsys.readouterr().err


#: A Lambert-93 .prj damaged by two flipped bytes (found by fuzzing): it still parses, but
#: names a projection PROJ cannot invert (``Invalid value for an argument``).
_DAMAGED_PRJ = (
    b'PROJCS["RGF_1993_Lambert_93",GEOGCS["GCD_RGF_1993",DATUM["D_RGF_1993",SPHEROID['
    b'"GRS_1980",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",'
    b'0.0174532925199433]],PROJECTION["Lambert_Conformal_Conic"],PARAMETER["False_Easting",'
    b'700000.0],PARAMETER["False_Northing",6600000.0],PARAMETER["Central_Meridian",3.0],'
    b'PARAMETER["Standard_Parallel_1",49.0],PARAMETER["StandTrd_Parallel_2",44.0],'
    b'PARAM\xe6TER["Latitude_Of_Origin",46.5],UNIT["Meter",1.0]]'
)


def test_unusable_crs_is_refused_not_raised(write_delivery: WriteDelivery) -> None:
    folder = write_delivery()
    (folder / "segments.prj").write_bytes(_DAMAGED_PRJ)
    refused = prepare_import([folder])
    assert refused.refused
    finding = _error(refused, "CRS-INVALID")
    assert finding["file"].endswith("segments.shp")
    assert "--crs" in finding["message"]
    accepted = prepare_import([folder], crs=2154)
    assert not accepted.refused, accepted.errors()
