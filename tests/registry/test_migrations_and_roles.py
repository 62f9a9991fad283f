"""Migrations are idempotent and keep data; roles separate reading, loading and migrating."""

from __future__ import annotations

import psycopg
import pytest

from recor import registry
from recor.errors import MigrationError, RegistryError
from recor.registry import BatchInfo
from recor.registry.migrate import Migration
from tests.registry.conftest import BLOIS, ORLEANS, segment_sql

pytestmark = pytest.mark.db


def test_upgrading_twice_applies_nothing_the_second_time(conn):
    assert registry.upgrade(conn) == []
    applied = registry.applied_migrations(conn)
    assert set(applied) == {m.version for m in registry.available_migrations()}


def test_upgrading_a_database_that_holds_data_keeps_every_row(empty_database_url):
    snapshot = (
        "SELECT (SELECT json_agg(s ORDER BY id) FROM recor.sites s)::text,"
        " (SELECT json_agg(g ORDER BY id) FROM recor.segments g)::text"
    )
    with registry.connect(empty_database_url, autocommit=True) as conn:
        assert registry.upgrade(conn, target=1) == ["0001_registry"]
        _write_as_in_0001(
            conn,
            "INSERT INTO recor.sites (code, kind, status, geom) VALUES"
            f" ('A', 'pop', 'in_service', 'SRID=2154;POINT({ORLEANS[0]} {ORLEANS[1]})'),"
            f" ('B', 'pop', 'in_service', 'SRID=2154;POINT({BLOIS[0]} {BLOIS[1]})')",
            segment_sql("S1", extra="fibre_count, fibres_used=144, 12"),
        )
        before = conn.execute(snapshot).fetchone()
        applied = registry.upgrade(conn)
        after = conn.execute(snapshot).fetchone()
    assert len(applied) == len(registry.available_migrations()) - 1
    assert before == after and "S1" in after[1]


def _write_as_in_0001(conn: psycopg.Connection, *statements: str) -> None:
    """A batch as the first schema wrote it (before the registry's own batch functions)."""
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO recor.import_batches DEFAULT VALUES RETURNING id"
        ).fetchone()
        conn.execute("SELECT set_config('recor.batch_id', %s, true)", (str(row[0]),))
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]
        conn.execute("UPDATE recor.import_batches SET outcome = 'loaded'")


def test_an_applied_migration_that_was_edited_is_refused(conn, monkeypatch):
    original = registry.available_migrations()
    edited = [Migration(m.version, m.name, m.sql + "\n-- edited") for m in original]
    monkeypatch.setattr("recor.registry.migrate.available_migrations", lambda: edited)
    with pytest.raises(MigrationError, match="edited after being applied"):
        registry.upgrade(conn)


def test_tables_belong_to_the_owner_role(conn):
    owners = conn.execute(
        "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'recor'"
    ).fetchall()
    assert owners == [("recor_owner",)]


def test_the_reader_role_reads_but_cannot_write(conn, sample_delivery):
    registry.load_delivery(conn, sample_delivery, BatchInfo())
    conn.execute("SET ROLE recor_reader")
    assert len(registry.read_segments(conn)) == len(sample_delivery.segments)
    with pytest.raises(RegistryError, match="permission denied"):
        registry.load_delivery(conn, sample_delivery, BatchInfo())
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("UPDATE recor.sites SET name = 'x'")


def test_the_editor_role_loads_and_undoes_but_cannot_migrate(conn, sample_delivery):
    conn.execute("SET ROLE recor_editor")
    first = registry.load_delivery(conn, sample_delivery, BatchInfo())
    registry.undo_batch(conn, first.batch_id)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("CREATE TABLE recor.intruder (id int)")


def test_analyses_and_maps_need_nothing_beyond_the_reader_role(conn, sample_delivery, tmp_path):
    from recor.config import Settings
    from recor.maps.build import write_standard_maps
    from recor.network import load_graph, redundancy_report

    registry.load_delivery(conn, sample_delivery, BatchInfo())
    conn.execute("SET ROLE recor_reader")
    report = redundancy_report(load_graph(conn))
    assert len(report.bridges) > 0
    paths = write_standard_maps(conn, Settings(), tmp_path)
    assert paths["network"].exists() and paths["coverage"].exists()
