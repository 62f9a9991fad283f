"""The database itself refuses bad rows, whoever writes them."""

from __future__ import annotations

import struct

import psycopg
import pytest

from tests.registry.conftest import BLOIS, ORLEANS, run_in_batch, segment_sql

pytestmark = pytest.mark.db


def test_a_good_segment_is_accepted_and_its_length_derived(conn, two_sites):
    two_sites(segment_sql())
    length = conn.execute("SELECT length_m FROM recor.segments WHERE code = 'S1'").fetchone()[0]
    expected = ((ORLEANS[0] - BLOIS[0]) ** 2 + (ORLEANS[1] - BLOIS[1]) ** 2) ** 0.5
    assert length == pytest.approx(expected)


def test_wrong_srid_is_refused(conn):
    with pytest.raises(psycopg.errors.Error, match="SRID"):
        run_in_batch(
            conn,
            "INSERT INTO recor.sites (code, kind, status, geom)"
            " VALUES ('X', 'pop', 'in_service', 'SRID=4326;POINT(1.9 47.9)')",
        )


def test_degrees_declared_as_metres_are_refused(conn):
    with pytest.raises(psycopg.errors.CheckViolation, match="sites_geom_in_france"):
        run_in_batch(
            conn,
            "INSERT INTO recor.sites (code, kind, status, geom)"
            " VALUES ('X', 'pop', 'in_service', 'SRID=2154;POINT(1.9 47.9)')",
        )


def test_multilinestring_is_refused(two_sites):
    multi = f"SRID=2154;MULTILINESTRING(({ORLEANS[0]} {ORLEANS[1]}, {BLOIS[0]} {BLOIS[1]}))"
    with pytest.raises(psycopg.errors.Error, match="MultiLineString"):
        two_sites(segment_sql(geom=multi))


def _line_through(value: float) -> str:
    """Hex EWKB of a line from A to B through a vertex whose coordinates are ``value``
    (WKT cannot spell NaN or infinity; the rules must refuse them, migration 0016)."""
    points = (*ORLEANS, value, value, *BLOIS)
    # little-endian LineString with an SRID (EWKB flag 0x20000000), 3 points
    return struct.pack("<BIII6d", 1, 0x20000002, 2154, 3, *points).hex()


@pytest.mark.parametrize(
    ("geom", "rule"),
    [
        ("SRID=2154;LINESTRING EMPTY", "segments_geom"),
        (
            f"SRID=2154;LINESTRING({ORLEANS[0]} {ORLEANS[1]}, {ORLEANS[0]} {ORLEANS[1]})",
            "segments_geom",
        ),
        (_line_through(float("nan")), "segments_geom_valid"),
        (_line_through(float("inf")), "segments_geom"),
    ],
    ids=["empty", "zero-length", "NaN vertex", "infinite vertex"],
)
def test_empty_or_degenerate_geometry_is_refused(two_sites, geom, rule):
    with pytest.raises(psycopg.errors.CheckViolation, match=rule):
        two_sites(segment_sql(geom=geom))


def test_segment_ends_off_their_sites_are_refused_at_commit(two_sites):
    off = f"SRID=2154;LINESTRING({ORLEANS[0] + 5} {ORLEANS[1]}, {BLOIS[0]} {BLOIS[1]})"
    with pytest.raises(psycopg.errors.CheckViolation, match=r"S1 does not end on its sites.*5\.0"):
        two_sites(segment_sql(geom=off))


def test_segment_ends_within_tolerance_are_accepted(conn, two_sites):
    near = f"SRID=2154;LINESTRING({ORLEANS[0] + 0.5} {ORLEANS[1]}, {BLOIS[0]} {BLOIS[1]})"
    two_sites(segment_sql(geom=near))
    assert conn.execute("SELECT count(*) FROM recor.segments").fetchone()[0] == 1


def test_moving_a_site_away_from_its_segments_is_refused(two_sites):
    two_sites(segment_sql())
    with pytest.raises(psycopg.errors.CheckViolation, match="does not end on its sites"):
        two_sites("UPDATE recor.sites SET geom = ST_Translate(geom, 100, 0) WHERE code = 'A'")


def test_a_site_and_its_segment_may_move_together(conn, two_sites):
    two_sites(segment_sql())
    two_sites(
        "UPDATE recor.sites SET geom = ST_Translate(geom, 100, 0) WHERE code = 'A'",
        "UPDATE recor.segments SET geom = ST_SetPoint(geom, 0,"
        " (SELECT geom FROM recor.sites WHERE code = 'A')) WHERE code = 'S1'",
    )
    assert conn.execute("SELECT count(*) FROM recor.segments_history").fetchone()[0] == 1


def test_retiring_a_site_that_active_segments_use_is_refused(two_sites):
    two_sites(segment_sql())
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="retired site"):
        two_sites("UPDATE recor.sites SET retired = true WHERE code = 'B'")


def test_unknown_enumeration_is_refused(two_sites):
    with pytest.raises(psycopg.errors.InvalidTextRepresentation, match="installation_kind"):
        two_sites(segment_sql(extra="installation='underwater'"))


@pytest.mark.parametrize(
    ("extra", "rule"),
    [
        ("fibre_count=-1", "segments_fibre_count_non_negative"),
        ("fibres_used=-2", "segments_fibres_used_non_negative"),
        ("fibre_count, fibres_used=24, 48", "segments_fibres_used_within_count"),
    ],
)
def test_inconsistent_fibre_counts_are_refused(two_sites, extra, rule):
    with pytest.raises(psycopg.errors.CheckViolation, match=rule):
        two_sites(segment_sql(extra=extra))


def test_duplicate_codes_are_refused(two_sites):
    two_sites(segment_sql("S1"))
    with pytest.raises(psycopg.errors.UniqueViolation, match="segments_code_unique"):
        two_sites(segment_sql("S1"))


def test_rows_are_never_deleted(conn, two_sites):
    with pytest.raises(psycopg.errors.RestrictViolation, match="never deleted"):
        two_sites("DELETE FROM recor.sites WHERE code = 'A'")
    with pytest.raises(psycopg.errors.RestrictViolation, match="never deleted"):
        two_sites("TRUNCATE recor.sites CASCADE")
    assert conn.execute("SELECT count(*) FROM recor.sites").fetchone()[0] == 2


def test_changes_outside_an_import_batch_are_refused(conn, two_sites):
    with pytest.raises(psycopg.errors.CheckViolation, match="inside an import batch"):
        conn.execute("UPDATE recor.sites SET name = 'x' WHERE code = 'A'")


def test_history_tables_are_append_only(conn, two_sites):
    two_sites("UPDATE recor.sites SET name = 'Orléans centre' WHERE code = 'A'")
    with pytest.raises(psycopg.errors.RestrictViolation):
        two_sites("DELETE FROM recor.sites_history")


def test_geometry_columns_are_typed_for_qgis(conn):
    rows = conn.execute(
        "SELECT f_table_name, type, srid FROM geometry_columns"
        " WHERE f_table_schema = 'recor' AND f_table_name IN ('sites', 'segments')"
        " ORDER BY f_table_name"
    ).fetchall()
    assert rows == [("segments", "LINESTRING", 2154), ("sites", "POINT", 2154)]


def test_geometries_have_gist_indexes(conn):
    indexes = conn.execute(
        "SELECT tablename FROM pg_indexes WHERE schemaname = 'recor' AND indexdef LIKE '%gist%'"
    ).fetchall()
    assert {"sites", "segments"} <= {t for (t,) in indexes}


def test_changes_need_an_open_batch(conn, two_sites):
    conn.execute("SELECT set_config('recor.batch_id', '999', false)")
    with pytest.raises(psycopg.errors.CheckViolation, match="batch 999 is not open"):
        conn.execute("UPDATE recor.sites SET name = 'x' WHERE code = 'A'")


def test_import_batches_are_never_deleted(conn, two_sites):
    with pytest.raises(psycopg.errors.RestrictViolation, match="never deleted"):
        conn.execute("DELETE FROM recor.import_batches")
