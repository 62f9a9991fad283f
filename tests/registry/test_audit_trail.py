"""An audit trail only recor writes: every bypass tried as a login role of each kind.

Each test connects as LOGIN roles made for this session (unique names, dropped after)
granted ``recor_reader``, ``recor_editor`` or ``recor_owner``, tries to bend batches,
history, pending checks, reference layers or the write lock directly, and checks the
refusal; then checks that an editor's ordinary work (import, history, undo, reference
import) still goes through.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import geopandas as gpd
import pandas as pd
import psycopg
import pytest
import shapely
from psycopg import sql

from recor import registry
from recor.cli import main
from recor.config import ImportSettings
from recor.errors import RegistryError
from recor.ingest.pipeline import import_paths
from recor.registry import BatchInfo
from recor.registry.batch import registry_error
from recor.registry.gracethd_store import store_gracethd_tables
from recor.registry.lock import write_transaction
from recor.registry.reference import read_cog, write_cog
from tests.registry.conftest import BLOIS, ORLEANS, segment_sql
from tests.registry.test_write_lock import _chamber_delivery, _segment_from_p

pytestmark = pytest.mark.db

HISTORY = ("sites_history", "segments_history", "risk_groups_history",
           "segment_risk_groups_history")  # fmt: skip
KINDS = ("reader", "editor", "owner")


@pytest.fixture
def logins(registry_url: str) -> Iterator[dict[str, str]]:
    """Connection strings of three fresh LOGIN roles: reader, editor and owner."""
    suffix = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
    names = {kind: f"recor_t_{suffix}_{kind}" for kind in KINDS}
    with psycopg.connect(registry_url, autocommit=True) as admin:
        for kind, name in names.items():
            admin.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE {}").format(
                sql.Identifier(name), sql.Identifier(f"recor_{kind}")))  # fmt: skip
    params = psycopg.conninfo.conninfo_to_dict(registry_url)
    yield {k: psycopg.conninfo.make_conninfo(**(params | {"user": n})) for k, n in names.items()}
    with psycopg.connect(registry_url, autocommit=True) as admin:
        for name in names.values():
            admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@pytest.fixture
def loaded(conn, two_sites) -> int:
    """Sites A (renamed once: a history row), B and segment S1; returns the newest batch."""
    two_sites(segment_sql("S1"))
    two_sites("UPDATE recor.sites SET name = 'Orléans' WHERE code = 'A'")
    return registry.registry_generation(conn)


def _refused(url: str, *statements: str) -> str:
    """Run statements in one transaction as that login; return the error (fail if none)."""
    with psycopg.connect(url) as conn:
        try:
            for statement in statements:
                conn.execute(statement)  # type: ignore[arg-type]
            conn.commit()
        except psycopg.Error as exc:
            return str(exc)
    pytest.fail(f"not refused: {statements}")


def _direct_writes() -> list[str]:
    """Direct writes on the audit trail, one statement each."""
    forged = "INSERT INTO recor.{t} SELECT *, now(), 1 FROM recor.{base} LIMIT 1"
    writes = []
    for table in HISTORY:
        base = table.removesuffix("_history")
        writes += [
            forged.format(t=table, base=base),
            f"UPDATE recor.{table} SET valid_to = now()",
            f"DELETE FROM recor.{table}",
            f"TRUNCATE recor.{table}",
        ]
    writes += [
        "INSERT INTO recor.import_batches (app_user, outcome) VALUES ('forger', 'loaded')",
        "UPDATE recor.import_batches SET app_user = 'someone else'",
        "UPDATE recor.import_batches SET outcome = 'running'",
        "UPDATE recor.import_batches SET started_at = '2001-01-01'",
        "DELETE FROM recor.import_batches",
        "TRUNCATE recor.import_batches",
        "INSERT INTO recor.pending_checks (txid)"
        " VALUES ((pg_current_xact_id()::text::bigint + 5)::text::xid8)",
        "DELETE FROM recor.pending_checks",
        "UPDATE recor.pending_checks SET requested_at = now()",
        "INSERT INTO recor.reference_imports (kind, source_file, sha256, source_crs, features)"
        " VALUES ('communes', 'x', 'x', 'x', 0)",
        "UPDATE recor.reference_imports SET source_file = 'x'",
        "DELETE FROM recor.reference_imports",
        "INSERT INTO recor.reference_areas (kind, code, name, import_id, geom) SELECT kind,"
        " 'X', 'x', import_id, geom FROM recor.reference_areas LIMIT 1",
        "UPDATE recor.reference_areas SET name = 'x'",
        "DELETE FROM recor.reference_areas",
        "TRUNCATE recor.reference_areas",
        "SELECT 1 FROM recor.write_lock FOR UPDATE",
        "SELECT 1 FROM recor.write_lock FOR KEY SHARE",
        "LOCK TABLE recor.write_lock IN ACCESS EXCLUSIVE MODE",
    ]
    return writes


def _reference_layer(conn) -> None:
    areas = gpd.GeoDataFrame(
        {"code": ["45234"], "name": ["Orléans"]},
        geometry=[shapely.box(610_000, 6_745_000, 630_000, 6_765_000)], crs=2154,
    )  # fmt: skip
    registry.write_reference(
        conn, areas, kind="communes", source_file="c.geojson", sha256="0" * 64,
        source_crs="EPSG:2154",
    )  # fmt: skip


@pytest.mark.parametrize("kind", ["reader", "editor"])
def test_readers_and_editors_cannot_write_the_audit_trail_directly(conn, loaded, logins, kind):
    _reference_layer(conn)
    before = _audit_snapshot(conn)
    statements = _direct_writes()
    for statement in statements:
        error = _refused(logins[kind], statement)
        assert "permission denied" in error, (statement, error)
    assert _audit_snapshot(conn) == before
    assert len(statements) == 35  # 16 history, 6 batches, 3 checks, 7 reference, 3 lock


def test_the_owner_cannot_forge_history_or_rewrite_batches_either(conn, loaded, logins):
    _reference_layer(conn)
    before = _audit_snapshot(conn)
    owner = logins["owner"]
    for table in HISTORY:
        base = table.removesuffix("_history")
        assert "triggers only" in _refused(
            owner, f"INSERT INTO recor.{table} SELECT *, now(), 1 FROM recor.{base} LIMIT 1"
        )
    assert "never deleted" in _refused(owner, "UPDATE recor.sites_history SET valid_to = now()")
    assert "never deleted" in _refused(owner, "DELETE FROM recor.sites_history")
    assert "triggers only" in _refused(owner, "INSERT INTO recor.pending_checks VALUES ('9')")
    assert "provenance never changes" in _refused(
        owner, "UPDATE recor.import_batches SET app_user = 'x'"
    )
    assert "cannot become running" in _refused(
        owner, "UPDATE recor.import_batches SET outcome = 'running'"
    )
    assert "never deleted" in _refused(owner, "DELETE FROM recor.import_batches")
    assert "opened by recor.begin_batch() only" in _refused(
        owner, "INSERT INTO recor.import_batches (outcome) VALUES ('loaded')"
    )
    assert "never deleted" in _refused(owner, "DELETE FROM recor.reference_imports")
    assert _audit_snapshot(conn) == before


def test_an_editor_cannot_attribute_changes_to_another_batch(conn, loaded, logins):
    editor = logins["editor"]
    old = loaded
    begin = "SELECT recor.begin_batch('e', 'p', '', '[]', '[]')"
    refusals = {
        "reopen by setting": _refused(
            editor, f"SELECT set_config('recor.batch_id', '{old}', true)",
            "UPDATE recor.sites SET name = 'forged' WHERE code = 'A'",
        ),
        "finish another": _refused(
            editor, begin, f"SELECT recor.finish_batch({old}, '{{}}', 'loaded')"
        ),
        "undo link without own undo": _refused(editor, f"SELECT recor.mark_undone(1, {old})"),
        "two batches": _refused(editor, begin, begin),
        "left running": _refused(
            editor, begin, "UPDATE recor.sites SET name = 'x' WHERE code = 'A'"
        ),
        "no batch": _refused(editor, "UPDATE recor.sites SET name = 'x' WHERE code = 'A'"),
    }  # fmt: skip
    assert "not open in this transaction" in refusals["reopen by setting"]
    assert "not opened by this transaction" in refusals["finish another"]
    assert "not opened by this transaction" in refusals["undo link without own undo"]
    assert "already has batch" in refusals["two batches"]
    assert "never finished" in refusals["left running"]
    assert "inside an import batch" in refusals["no batch"]
    assert "forged" not in set(registry.history(conn, "A", entity="sites")["name"])

    with (
        psycopg.connect(editor, autocommit=True) as session,
        write_transaction(session, user="e"),
    ):
        batch = session.execute(begin).fetchone()[0]
        session.execute(
            "INSERT INTO recor.sites (code, kind, status, geom, batch_id, valid_from)"
            f" VALUES ('BACKDATED', 'pop', 'in_service', 'SRID=2154;POINT({ORLEANS[0]}"
            f" {ORLEANS[1] + 10})', {old}, '2001-01-01')"
        )
        session.execute("SELECT recor.finish_batch(%s, '{}', 'loaded')", (batch,))
    row = conn.execute(
        "SELECT batch_id, valid_from > now() - interval '1 hour' FROM recor.sites"
        " WHERE code = 'BACKDATED'"
    ).fetchone()
    assert row == (batch, True)
    assert len(refusals) == 6


def test_an_editor_cannot_leave_a_segment_on_a_missing_site(conn, loaded, logins):
    """Migration 0011 replaced the end sites' foreign keys by set-based checks: the
    database still refuses a dangling end, whoever writes, with the segment and end named.
    """
    editor = logins["editor"]
    begin = "SELECT recor.begin_batch('e', 'p', '', '[]', '[]')"
    rows_before = conn.execute("SELECT count(*) FROM recor.segments").fetchone()[0]
    dangling = segment_sql("S9").replace("(SELECT id FROM recor.sites WHERE code = 'B')", "999999")
    refusals = {
        "insert": _refused(editor, begin, dangling),
        "one bad row of many": _refused(
            editor, begin, segment_sql("S7"),
            "INSERT INTO recor.segments (code, site_a, site_b, status, geom)"
            " SELECT code || 'x', site_a, site_b + 999999, status, geom FROM recor.segments",
        ),
        "move an end": _refused(
            editor, begin, "UPDATE recor.segments SET site_a = 999999 WHERE code = 'S1'"
        ),
        "renumber a site": _refused(
            editor, begin, "UPDATE recor.sites SET id = DEFAULT WHERE code = 'B'"
        ),
        "disable the check": _refused(
            editor, "ALTER TABLE recor.segments DISABLE TRIGGER segments_end_sites_exist"
        ),
        "skip triggers": _refused(editor, "SET session_replication_role = replica"),
    }  # fmt: skip
    with psycopg.connect(editor) as session, pytest.raises(psycopg.errors.ForeignKeyViolation):
        session.execute(begin)
        copy = "COPY recor.segments (code, site_a, site_b, status, geom) FROM STDIN"
        line = f"LINESTRING({ORLEANS[0]} {ORLEANS[1]}, {BLOIS[0]} {BLOIS[1]})"
        with session.cursor().copy(copy) as rows:
            rows.write_row(("S8", 999998, 999999, "in_service", f"SRID=2154;{line}"))
    message = "segment S9: site_b refers to site id 999999, which is not in recor.sites"
    assert message in refusals["insert"]
    assert "site_b refers to site id" in refusals["one bad row of many"]
    assert "segment S1: site_a refers to site id 999999" in refusals["move an end"]
    assert "never changes" in refusals["renumber a site"]
    assert "must be owner" in refusals["disable the check"]
    assert "permission denied" in refusals["skip triggers"]
    assert conn.execute("SELECT count(*) FROM recor.segments").fetchone()[0] == rows_before


def test_a_dangling_end_is_refused_naming_table_and_rule(conn, two_sites):
    with pytest.raises(psycopg.errors.ForeignKeyViolation) as refused:
        two_sites(segment_sql("S9").replace("(SELECT id FROM recor.sites WHERE code = 'A')", "-1"))
    error = str(registry_error(refused.value))
    assert "segment S9: site_a refers to site id -1" in error
    assert "table recor.segments; rule segments_end_sites_exist" in error


def test_a_setting_changed_inside_a_statement_cannot_move_rows_to_another_batch(
    conn, loaded, logins
):
    """set_config in a FROM clause changed recor.batch_id after the statement's batch check:
    new versions and the history rows they end went to a closed batch (migration 0015)."""
    editor, old = logins["editor"], loaded
    begin = "SELECT recor.begin_batch('e', 'p', '', '[]', '[]')"
    switch = f"(SELECT set_config('recor.batch_id', '{old}', true)) AS forged"
    finish = (
        "SELECT recor.finish_batch((SELECT max(id) FROM recor.import_batches"
        " WHERE outcome = 'running'), '{}', 'loaded')"
    )
    before = _audit_snapshot(conn)
    inserted = _refused(
        editor, begin,
        "INSERT INTO recor.sites (code, kind, status, geom)"
        f" SELECT 'P2', 'pop', 'in_service', 'SRID=2154;POINT({ORLEANS[0]} {ORLEANS[1] + 50})'"
        f" FROM {switch}", finish,
    )  # fmt: skip
    updated = _refused(
        editor, begin,
        f"UPDATE recor.segments SET fibre_count = 7 FROM {switch} WHERE code = 'S1'", finish,
    )  # fmt: skip
    for error in (inserted, updated):
        assert f"under batch {old}" in error and "this transaction opened" in error, error
    assert _audit_snapshot(conn) == before
    assert registry.undo_batch(conn, old, user="test").batch_id is not None


def test_one_forged_row_among_the_running_batch_rows_is_refused(conn, loaded, logins):
    """The batch check takes the statement's distinct batches first, then tests each
    (migration 0016): a statement whose rows carry the running batch and, from its second
    row on, another one is refused naming that other batch."""
    editor, old = logins["editor"], loaded
    begin = "SELECT recor.begin_batch('e', 'p', '', '[]', '[]')"
    finish = (
        "SELECT recor.finish_batch((SELECT max(id) FROM recor.import_batches"
        " WHERE outcome = 'running'), '{}', 'loaded')"
    )
    before = _audit_snapshot(conn)
    switch_at_p3 = (
        f"CASE WHEN v.code = 'P3' THEN set_config('recor.batch_id', '{old}', true) IS NOT NULL"
        " ELSE true END"
    )
    error = _refused(
        editor, begin,
        "INSERT INTO recor.sites (code, kind, status, geom)"
        " SELECT v.code, 'pop', 'in_service', ST_SetSRID(ST_MakePoint(v.x, v.y), 2154)"
        f" FROM (VALUES ('P2', {ORLEANS[0]}, {ORLEANS[1] + 50}),"
        f" ('P3', {ORLEANS[0]}, {ORLEANS[1] + 60})) AS v (code, x, y) WHERE {switch_at_p3}",
        finish,
    )  # fmt: skip
    assert f"under batch {old}" in error and "this transaction opened" in error, error
    assert _audit_snapshot(conn) == before


def test_the_end_check_fails_whatever_pending_checks_holds(conn, two_sites):
    """Future transaction ids pre-inserted into pending_checks used to disable the check."""
    conn.execute("ALTER TABLE recor.pending_checks DISABLE TRIGGER pending_checks_no_direct_insert")
    first = conn.execute(
        "INSERT INTO recor.pending_checks (txid) SELECT (pg_current_xact_id()::text::bigint + g)"
        "::text::xid8 FROM generate_series(1, 50) g RETURNING txid::text::bigint"
    ).fetchall()[0][0]
    conn.execute("ALTER TABLE recor.pending_checks ENABLE TRIGGER pending_checks_no_direct_insert")
    far = f"SRID=2154;LINESTRING({ORLEANS[0] + 500} {ORLEANS[1]}, {BLOIS[0]} {BLOIS[1]})"
    with pytest.raises(psycopg.errors.CheckViolation, match="does not end on its sites"):
        two_sites(segment_sql("BAD", geom=far))
    assert "BAD" not in set(registry.read_segments(conn)["code"])
    after = conn.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()[0]
    assert after < first + 49, "the refused transaction's id was one of those pre-inserted"


def test_the_end_check_fails_even_when_its_request_was_deleted(conn, two_sites):
    """check_segment_ends tested FOUND after its own DELETE, not after the search."""
    far = f"SRID=2154;LINESTRING({ORLEANS[0] + 500} {ORLEANS[1]}, {BLOIS[0]} {BLOIS[1]})"
    with pytest.raises(psycopg.errors.CheckViolation, match="does not end on its sites"):
        two_sites(
            segment_sql("BAD", geom=far),
            "DELETE FROM recor.pending_checks WHERE txid = pg_current_xact_id()",
        )
    assert "BAD" not in set(registry.read_segments(conn)["code"])


def test_a_reader_cannot_take_or_block_the_write_lock(registry_url, logins, tmp_path):
    reader = logins["reader"]
    for statement in ("SELECT recor.take_write_lock('r')",
                      "SELECT recor.begin_batch('r', '', '', '[]', '[]')",
                      "SELECT recor.finish_batch(1, '{}', 'loaded')",
                      "SELECT recor.mark_undone(1, 2)"):  # fmt: skip
        assert "permission denied" in _refused(reader, statement)
    with psycopg.connect(reader) as blocker:
        blocker.execute("SELECT pg_advisory_lock(%s)", (0x5245434F52_02,))
        blocker.execute("LOCK TABLE recor.write_lock IN ACCESS SHARE MODE")
        blocker.execute("SELECT * FROM recor.import_batches")
        with registry.connect(logins["editor"]) as conn:
            result = import_paths(
                conn, [_segment_from_p(tmp_path / "two")], user="editor",
                settings=ImportSettings(lock_timeout_s=5),
            )  # fmt: skip
    assert result.loaded, result.prepared.errors()
    with (
        registry.connect(reader) as conn,
        pytest.raises(RegistryError, match="permission denied to take the write lock"),
    ):
        registry.load_delivery(conn, _chamber_delivery(), BatchInfo())


def test_an_editor_still_imports_reads_history_undoes_and_imports_references(
    registry_url, logins, tmp_path, capsys
):
    editor = logins["editor"]
    delivery = _segment_from_p(tmp_path / "two")
    with registry.connect(editor) as conn:
        result = import_paths(conn, [delivery], user="editor")
        assert result.loaded, result.prepared.errors()
        _reference_layer(conn)
    assert main(["--database-url", editor, "history", "T-B"]) == 0
    assert f"batch {result.summary.batch_id}" in capsys.readouterr().out
    with registry.connect(editor, autocommit=True) as conn:
        undo = registry.undo_batch(conn, result.summary.batch_id, user="editor")
        batches = registry.list_batches(conn).set_index("id")
        layers = registry.list_reference_layers(conn)
    assert batches.loc[result.summary.batch_id, "outcome"] == "undone"
    assert batches.loc[undo.batch_id, "outcome"] == "undo"
    assert set(batches["db_user"]) == {psycopg.conninfo.conninfo_to_dict(editor)["user"]}
    assert [layer.kind for layer in layers] == ["communes"]


def _audit_snapshot(conn) -> tuple:
    tables = ("import_batches", *HISTORY, "pending_checks", "reference_areas",
              "reference_imports")  # fmt: skip
    return tuple(
        conn.execute(
            sql.SQL(
                "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
                " FROM recor.{} t"
            ).format(sql.Identifier(name))
        ).fetchone()[0]
        for name in tables
    )


def _cog(name: str = "Orléans") -> pd.DataFrame:
    return pd.DataFrame(
        {"code": ["45234"], "name": [name], "type": ["commune-actuelle"], "departement": ["45"],
         "parent": [None], "chief_town_rank": [None], "population": [116_617],
         "epci_code": [None], "epci_name": [None], "epci_type": [None]}
    )  # fmt: skip


def _kept_table(conn) -> int:
    """A batch that kept one GraceTHD table of one row; returns the batch."""
    with write_transaction(conn, user="test"):
        batch = conn.execute(
            "SELECT recor.begin_batch('test', 'gracethd', '', '[]', '[]')"
        ).fetchone()[0]
        store_gracethd_tables(conn, batch, {"t_organisme": pd.DataFrame({"or_code": ["OR1"]})})
        conn.execute("SELECT recor.finish_batch(%s, '{}', 'loaded')", (batch,))
    return batch


def test_kept_gracethd_tables_and_the_official_code_cannot_be_bent(conn, logins):
    """Migration 0014: no kept row under another batch, none changed; the COG by function only."""
    batch = _kept_table(conn)
    write_cog(conn, _cog(), source_file="cog.csv", sha256="0" * 64)
    kept = "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM recor.{} t"
    tables = ("gracethd_table_versions", "gracethd_rows", "reference_cog", "reference_imports")
    before = [conn.execute(kept.format(t)).fetchone()[0] for t in tables]
    begin = "SELECT recor.begin_batch('x', 'x', '', '[]', '[]')"
    forged_version = (
        "INSERT INTO recor.gracethd_table_versions (batch_id, table_name, digest, row_count)"
        f" VALUES ({batch}, 't_adresse', 'x', 0)"
    )
    forged_row = (
        "INSERT INTO recor.gracethd_rows (batch_id, table_name, row_number, attributes)"
        f" VALUES ({batch}, 't_organisme', 7, '{{}}')"
    )
    for kind in ("reader", "editor", "owner"):
        url = logins[kind]
        errors = [
            _refused(url, forged_version),
            _refused(url, begin, forged_version),  # its own batch is open, not that one
            _refused(url, begin, forged_row),
            _refused(url, "UPDATE recor.gracethd_rows SET attributes = '{}'"),
            _refused(url, "DELETE FROM recor.gracethd_table_versions"),
            _refused(url, "TRUNCATE recor.gracethd_rows"),
        ]
        if kind != "owner":  # the owner administers reference layers, as reference_areas
            errors += [
                _refused(url, "DELETE FROM recor.reference_cog"),
                _refused(url, "UPDATE recor.reference_cog SET population = 1"),
                _refused(url, "INSERT INTO recor.reference_cog SELECT * FROM recor.reference_cog"),
            ]
        for error in errors:
            assert any(
                word in error for word in ("permission denied", "only the running batch",
                                           "write lock", "never changed", "never deleted")
            ), (kind, error)  # fmt: skip
    assert [conn.execute(kept.format(t)).fetchone()[0] for t in tables] == before


def test_an_editor_imports_the_official_code_through_the_registry_function(logins):
    with registry.connect(logins["editor"]) as conn:
        first = write_cog(conn, _cog("Orleans"), source_file="a.csv", sha256="1" * 64)
        second = write_cog(conn, _cog(), source_file="b.csv", sha256="2" * 64)
        cog = read_cog(conn)
        recorded = conn.execute(
            "SELECT source_file, features, db_user FROM recor.reference_imports"
            " WHERE kind = 'cog' ORDER BY id"
        ).fetchall()
    assert second.id > first.id
    assert cog["name"].tolist() == ["Orléans"] and cog["population"].tolist() == [116_617]
    assert pd.isna(cog["chief_town_rank"].iloc[0])
    editor = psycopg.conninfo.conninfo_to_dict(logins["editor"])["user"]
    assert recorded == [("a.csv", 1, editor), ("b.csv", 1, editor)]


def test_findings_given_late_are_the_batchs_own_once_and_never_after(conn, loaded, logins):
    """Migration 0020: a batch opened with no findings takes them once, from its own
    transaction, while it runs; no other way to change a batch's findings appears."""
    editor, owner = logins["editor"], logins["owner"]
    begin = "SELECT recor.begin_batch('e', 'p', '', '[]', '[]')"
    found = """'[{"rule": "TOPO-CROSSING"}]'"""
    record = f"SELECT recor.record_batch_findings(recor.current_batch(), {found})"
    refusals = {
        "another batch": _refused(
            editor, begin, f"SELECT recor.record_batch_findings({loaded}, {found})"
        ),
        "twice": _refused(editor, begin, record, record),
        "opened with findings": _refused(
            editor, "SELECT recor.begin_batch('e', 'p', '', '[]', '[{\"rule\": \"X\"}]')", record
        ),
        "not a list": _refused(
            editor, begin, "SELECT recor.record_batch_findings(recor.current_batch(), '{}')"
        ),
        "empty, to keep the one change": _refused(
            editor, begin, "SELECT recor.record_batch_findings(recor.current_batch(), '[]')"
        ),
        "by the owner's own update, emptied": _refused(
            owner, begin, "UPDATE recor.import_batches SET findings = '\"x\"'"
            " WHERE id = recor.current_batch()"
        ),
        "closed, by the owner": _refused(
            owner, f"UPDATE recor.import_batches SET findings = {found} WHERE id = {loaded}"
        ),
    }  # fmt: skip
    assert "not opened by this transaction" in refusals["another batch"]
    assert "recorded once" in refusals["twice"]
    assert "recorded once" in refusals["opened with findings"]
    assert "at least one finding expected" in refusals["not a list"]
    assert "at least one finding expected" in refusals["empty, to keep the one change"]
    assert "provenance never changes" in refusals["by the owner's own update, emptied"]
    assert "provenance never changes" in refusals["closed, by the owner"]

    with (
        psycopg.connect(editor, autocommit=True) as session,
        write_transaction(session, user="e"),
    ):
        batch = session.execute(begin).fetchone()[0]
        session.execute(record)
        session.execute("SELECT recor.finish_batch(%s, '{}', 'loaded')", (batch,))
    row = conn.execute("SELECT findings FROM recor.import_batches WHERE id = %s", (batch,))
    assert row.fetchone()[0] == [{"rule": "TOPO-CROSSING"}]
