"""A large batch builds the search indexes after its INSERT (migration 0019), rules unchanged."""

from __future__ import annotations

import psycopg
import pytest

from recor import registry
from recor.errors import RegistryError
from recor.registry import BatchInfo, Delivery, LoadSummary
from recor.registry import write as registry_write
from recor.registry.batch import batch_transaction, finish_batch

pytestmark = pytest.mark.db

SUSPENDED = ("sites_geom_idx", "segments_geom_idx", "segments_site_a_idx", "segments_site_b_idx")


def _indexes(conn: psycopg.Connection) -> dict[str, tuple[int, str, bool]]:
    """Index name → (oid, definition, valid and ready) of every index of sites and segments."""
    rows = conn.execute(
        "SELECT c.relname, c.oid::int8, pg_get_indexdef(c.oid), i.indisvalid AND i.indisready"
        " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " WHERE i.indrelid IN ('recor.sites'::regclass, 'recor.segments'::regclass)"
    ).fetchall()
    return {name: (oid, definition, ok) for name, oid, definition, ok in rows}


def _definitions(indexes: dict[str, tuple[int, str, bool]]) -> dict[str, str]:
    return {name: definition for name, (_, definition, _) in indexes.items()}


def _rebuilt(before: dict, after: dict) -> set[str]:
    """Names of the indexes re-created (new oid) between two readings."""
    return {name for name in after if name in before and after[name][0] != before[name][0]}


@pytest.fixture
def bulk_from_one_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any batch counts as large: the small sample takes the bulk path."""
    monkeypatch.setattr(registry_write, "_BULK_INDEX_ROWS", 1)


def _with_bad_fibres(delivery: Delivery) -> Delivery:
    segments = delivery.segments.copy()
    last = segments.index[-1]
    segments.loc[last, "fibre_count"] = 2
    segments.loc[last, "fibres_used"] = 5
    return Delivery(delivery.sites, segments, delivery.risk_groups, delivery.segment_risk_groups)


def _without_row(error: BaseException) -> str:
    return str(error).split("; Failing row contains")[0]


def test_a_bulk_load_rebuilds_the_search_indexes_valid_and_identical(
    conn, sample_delivery, bulk_from_one_row
):
    before = _indexes(conn)
    registry.load_delivery(conn, sample_delivery, BatchInfo())
    after = _indexes(conn)
    assert _definitions(after) == _definitions(before)
    assert all(ok for _, _, ok in after.values())
    assert _rebuilt(before, after) == set(SUSPENDED)
    assert conn.execute("SELECT count(*) FROM recor.suspended_indexes").fetchone() == (0,)
    # The rebuilt indexes answer as the table does.
    conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
    for name in ("segments_site_a_idx", "segments_site_b_idx"):
        conn.execute("SELECT bt_index_check(%s::regclass, true)", (f"recor.{name}",))
    box = "ST_MakeEnvelope(560000, 6700000, 640000, 6780000, 2154)"
    queries = [
        f"SELECT count(*) FROM recor.segments WHERE NOT retired AND geom && {box}",
        f"SELECT count(*) FROM recor.sites WHERE NOT retired AND geom && {box}",
    ]
    with conn.transaction():
        conn.execute("SET LOCAL enable_seqscan = off")
        by_index = [conn.execute(q).fetchone() for q in queries]  # type: ignore[arg-type]
        plan = conn.execute("EXPLAIN " + queries[0]).fetchall()  # type: ignore[operator]
    assert "segments_geom_idx" in " ".join(r[0] for r in plan)
    with conn.transaction():
        conn.execute("SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off")
        by_scan = [conn.execute(q).fetchone() for q in queries]  # type: ignore[arg-type]
    assert by_index == by_scan
    assert by_scan[0][0] > 0


def test_a_refused_bulk_load_refuses_the_same_way_and_leaves_the_indexes(
    conn, sample_delivery, monkeypatch
):
    bad = _with_bad_fibres(sample_delivery)
    before = _indexes(conn)
    with pytest.raises(RegistryError) as row_by_row:
        registry.load_delivery(conn, bad, BatchInfo())
    monkeypatch.setattr(registry_write, "_BULK_INDEX_ROWS", 1)
    with pytest.raises(RegistryError) as bulk:
        registry.load_delivery(conn, bad, BatchInfo())
    # the same refusal (the failing row's detail names its new id and time)
    assert _without_row(bulk.value) == _without_row(row_by_row.value)
    assert "segments_fibres_used_within_count" in str(bulk.value)
    assert _indexes(conn) == before
    assert conn.execute("SELECT count(*) FROM recor.sites").fetchone() == (0,)


def test_a_bulk_dry_run_leaves_the_indexes(conn, sample_delivery, bulk_from_one_row):
    before = _indexes(conn)
    summary = registry.load_delivery(conn, sample_delivery, BatchInfo(), dry_run=True)
    assert len(summary.segments.added) == len(sample_delivery.segments)
    assert _indexes(conn) == before


def test_a_bulk_load_never_waits_for_a_reader_of_the_table(
    conn, registry_url, sample_delivery, bulk_from_one_row
):
    before = _indexes(conn)
    with registry.connect(registry_url) as reader:
        reader.execute("SELECT count(*) FROM recor.segments").fetchone()  # holds its lock
        conn.execute("SET lock_timeout = '5s'")
        summary = registry.load_delivery(conn, sample_delivery, BatchInfo())
        reader.rollback()
    assert len(summary.segments.added) == len(sample_delivery.segments)
    after = _indexes(conn)
    # sites, not read, were rebuilt; the segments' rows went into their indexes one by one
    assert _rebuilt(before, after) == {"sites_geom_idx"}
    assert _definitions(after) == _definitions(before)


def test_an_index_left_suspended_is_rebuilt_at_commit(conn, sample_delivery):
    registry.load_delivery(conn, sample_delivery, BatchInfo())
    before = _indexes(conn)
    conn.execute("SET ROLE recor_editor")
    with batch_transaction(conn, BatchInfo(note="raw")) as batch_id:
        suspended = conn.execute("SELECT recor.suspend_bulk_indexes('segments')").fetchone()
        assert suspended == (True,)
        assert "segments_geom_idx" not in _indexes(conn)
        conn.execute("UPDATE recor.segments SET cable_type = 'x' WHERE id = 1")
        finish_batch(conn, batch_id, LoadSummary(batch_id, dry_run=False), outcome="loaded")
    after = _indexes(conn)
    assert _definitions(after) == _definitions(before)
    assert all(ok for _, _, ok in after.values())
    assert _rebuilt(before, after) == {n for n in SUSPENDED if n.startswith("segments")}


def test_only_the_running_batch_suspends_and_only_the_search_indexes(conn):
    before = _indexes(conn)
    conn.execute("SET ROLE recor_editor")
    with pytest.raises(psycopg.errors.CheckViolation, match="inside an import batch"):
        conn.execute("SELECT recor.suspend_bulk_indexes('segments')")
    with (
        pytest.raises(psycopg.errors.InvalidParameterValue, match="only those of"),
        batch_transaction(conn, BatchInfo(note="raw")),
    ):
        conn.execute("SELECT recor.suspend_bulk_indexes('import_batches')")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(
            "INSERT INTO recor.suspended_indexes VALUES (pg_current_xact_id(), 'x', 'SELECT 1')"
        )
    # a batch this transaction did not open (here: none running) is not enough
    conn.execute("SELECT set_config('recor.batch_id', '1', false)")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="running batch"):
        conn.execute("SELECT recor.suspend_bulk_indexes('segments')")
    conn.execute("SET ROLE recor_reader")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        conn.execute("SELECT recor.suspend_bulk_indexes('segments')")
    assert _indexes(conn) == before


def test_a_first_load_keeps_its_staging_in_memory(registry_url, sample_delivery):
    with registry.connect(registry_url, autocommit=True) as fresh:
        registry.load_delivery(fresh, sample_delivery, BatchInfo())
        # the session's temporary buffers were sized by the load: only that size is accepted now
        fresh.execute("SET temp_buffers = '256MB'")
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="temporary tables"):
            fresh.execute("SET temp_buffers = '8MB'")


def test_a_session_that_used_temporary_tables_first_still_loads(registry_url, sample_delivery):
    with registry.connect(registry_url, autocommit=True) as used:
        with used.transaction():
            used.execute("CREATE TEMP TABLE scratch ON COMMIT DROP AS SELECT 1 AS x")
        summary = registry.load_delivery(used, sample_delivery, BatchInfo())
        again = registry.load_delivery(used, sample_delivery, BatchInfo(), dry_run=True)
    assert len(summary.segments.added) == len(sample_delivery.segments)
    assert again.counts()["segments"]["unchanged"] == len(sample_delivery.segments)


def test_a_table_with_deferred_triggers_is_never_suspended(conn, sample_delivery):
    registry.load_delivery(conn, sample_delivery, BatchInfo())
    before = _indexes(conn)
    # a deferred trigger on segments (none today): its pending events would forbid the rebuild
    conn.execute(
        "CREATE FUNCTION public.nothing() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN RETURN NULL; END $$;"
        " CREATE CONSTRAINT TRIGGER later AFTER UPDATE ON recor.segments"
        " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.nothing()"
    )
    with batch_transaction(conn, BatchInfo(note="raw")) as batch_id:
        conn.execute("UPDATE recor.segments SET cable_type = 'x' WHERE id = 1")
        suspended = conn.execute("SELECT recor.suspend_bulk_indexes('segments')").fetchone()
        finish_batch(conn, batch_id, LoadSummary(batch_id, dry_run=False), outcome="loaded")
    assert suspended == (False,)
    assert _indexes(conn) == before


def _statements(conn: psycopg.Connection) -> list[str]:
    """Every statement the server runs for this session from now on (its log, as notices)."""
    seen: list[str] = []
    conn.add_notice_handler(lambda diag: seen.append(diag.message_primary or ""))
    conn.execute("SET log_statement = 'all'")
    conn.execute("SET client_min_messages = log")
    return seen


def test_a_dry_run_never_suspends_but_a_load_does(conn, sample_delivery, bulk_from_one_row):
    seen = _statements(conn)
    registry.load_delivery(conn, sample_delivery, BatchInfo(), dry_run=True)
    assert not any("suspend_bulk_indexes" in s for s in seen)
    registry.load_delivery(conn, sample_delivery, BatchInfo())
    assert any("suspend_bulk_indexes" in s for s in seen)


def test_an_index_the_owner_commented_is_left_as_it_is(conn, sample_delivery, bulk_from_one_row):
    conn.execute("COMMENT ON INDEX recor.segments_geom_idx IS 'owner''s note'")
    before = _indexes(conn)
    registry.load_delivery(conn, sample_delivery, BatchInfo())
    after = _indexes(conn)
    assert _rebuilt(before, after) == set(SUSPENDED) - {"segments_geom_idx"}
    assert _definitions(after) == _definitions(before)
    comment = conn.execute("SELECT obj_description('recor.segments_geom_idx'::regclass)")
    assert comment.fetchone() == ("owner's note",)


def test_a_registry_behind_the_code_refuses_to_write(empty_database_url, sample_delivery):
    with registry.connect(empty_database_url, autocommit=True) as old:
        registry.upgrade(old, target=17)
        with pytest.raises(RegistryError, match=r"0018_history_indexes.*recor db upgrade"):
            registry.load_delivery(old, sample_delivery, BatchInfo())
        assert old.execute("SELECT count(*) FROM recor.import_batches").fetchone() == (0,)
        registry.upgrade(old)
        summary = registry.load_delivery(old, sample_delivery, BatchInfo())
    assert len(summary.segments.added) == len(sample_delivery.segments)
