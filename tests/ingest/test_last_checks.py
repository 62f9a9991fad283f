"""The last checks of an import run while the registry merges its rows.

Segment layout, site statuses and disconnected parts only report; ``import_paths`` runs
them in a thread that starts once the rows are staged, and their findings join the batch
before it closes (migration 0020). Their findings must be those of a plain preparation,
reach the batch, and a failure among them must leave the registry as it was.
"""

from __future__ import annotations

import threading
from pathlib import Path

import geopandas as gpd
import pandas as pd
import psycopg
import pyogrio
import pytest
import shapely

from recor import registry
from recor.ingest import pipeline
from recor.ingest.pipeline import import_paths, prepare_import
from tests.ingest.ingest_builders import A_XY, B_XY, site_frame
from tests.registry.test_write_lock import _segment_from_p, import_behind_a_chamber

pytestmark = pytest.mark.db

#: What each of the three last checks finds in the delivery below.
LAST_RULES = {"TOPO-CROSSING", "TOPO-STATUS-MISMATCH", "TOPO-DISCONNECTED"}


def _delivery(tmp_path: Path) -> Path:
    """Two segments crossing without a node, in two unconnected parts, one in service
    between a site in service and a planned one."""
    sites = site_frame(status=["in_service", "planned", "in_service"])
    extra = gpd.GeoDataFrame(
        {"code": ["S-D", "S-E"], "name": ["D", "E"], "kind": ["chamber"] * 2,
         "status": ["in_service"] * 2},
        geometry=shapely.points([(619_500.0, 6_754_500.0), (619_500.0, 6_755_500.0)]), crs=2154,
    )  # fmt: skip
    segments = gpd.GeoDataFrame(
        {"code": ["X-1", "X-2"], "site_a": ["S-A", "S-D"], "site_b": ["S-B", "S-E"],
         "status": ["in_service", "in_service"]},
        geometry=[
            shapely.LineString([A_XY, B_XY]),
            shapely.LineString([(619_500.0, 6_754_500.0), (619_500.0, 6_755_500.0)]),
        ],
        crs=2154,
    )  # fmt: skip
    path = tmp_path / "livraison.gpkg"
    all_sites = gpd.GeoDataFrame(pd.concat([sites, extra], ignore_index=True), crs=2154)
    pyogrio.write_dataframe(all_sites, path, layer="sites")
    pyogrio.write_dataframe(segments, path, layer="segments")
    return path


def _batch_rules(conn: psycopg.Connection, batch_id: int) -> set[str]:
    row = conn.execute(
        "SELECT findings FROM recor.import_batches WHERE id = %s", (batch_id,)
    ).fetchone()
    assert row is not None
    return {f["rule"] for f in row[0]}


def _nothing_written(conn: psycopg.Connection) -> None:
    assert registry.list_batches(conn).empty
    assert registry.read_sites(conn).empty and registry.read_segments(conn).empty


def test_their_findings_are_a_plain_preparations_and_reach_the_batch(conn, tmp_path) -> None:
    path = _delivery(tmp_path)
    expected = prepare_import([path]).findings
    assert set(expected["rule"]) >= LAST_RULES

    result = import_paths(conn, [path], user="test")

    assert result.status == "loaded", result.prepared.errors()["message"].tolist()
    pd.testing.assert_frame_equal(result.prepared.findings, expected)
    assert _batch_rules(conn, result.summary.batch_id) == set(expected["rule"])


def test_a_dry_run_reports_them_too(conn, tmp_path) -> None:
    path = _delivery(tmp_path)
    result = import_paths(conn, [path], dry_run=True)
    assert result.status == "dry-run"
    assert set(result.prepared.findings["rule"]) >= LAST_RULES
    _nothing_written(conn)


def test_an_error_one_of_them_finds_refuses_the_load(conn, tmp_path, monkeypatch) -> None:
    """No last check refuses today; should one find an error, the staged load rolls back."""
    found = pipeline.check_disconnected_parts

    def refusing(segments, sites, findings):
        findings.add("ATTR-REQUIRED", "refus trouvé par le dernier contrôle", code="X-1")
        return found(segments, sites, findings)

    monkeypatch.setattr(pipeline, "check_disconnected_parts", refusing)
    result = import_paths(conn, [_delivery(tmp_path)])

    assert result.status == "refused"
    errors = result.prepared.errors()
    assert list(errors["message"]) == ["refus trouvé par le dernier contrôle"]
    assert set(result.prepared.findings["rule"]) >= LAST_RULES
    _nothing_written(conn)


def test_a_check_that_fails_leaves_the_registry_as_it_was(conn, tmp_path, monkeypatch) -> None:
    def failing(*_args, **_kwargs):
        raise RuntimeError("contrôle en panne")

    monkeypatch.setattr(pipeline, "check_site_statuses", failing)
    with pytest.raises(RuntimeError, match="contrôle en panne"):
        import_paths(conn, [_delivery(tmp_path)])
    conn.rollback()
    _nothing_written(conn)


def test_an_interrupted_import_does_not_wait_for_them(conn, tmp_path, monkeypatch) -> None:
    """Ctrl-C while the checks run: the import stops at once, nothing is written."""
    started, release, finished = threading.Event(), threading.Event(), threading.Event()
    found = pipeline.check_disconnected_parts

    def slow(segments, sites, findings):
        started.set()
        release.wait(10)
        finished.set()
        return found(segments, sites, findings)

    def interrupted(*_args, staged, **_kwargs):
        staged()  # as load_delivery once the rows are staged: the last checks start
        assert started.wait(30), "the last checks must be running by now"
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "check_disconnected_parts", slow)
    monkeypatch.setattr(pipeline, "load_delivery", interrupted)
    try:
        with pytest.raises(KeyboardInterrupt):
            import_paths(conn, [_delivery(tmp_path)])
        assert not finished.is_set()  # returned while the checks were still running
    finally:
        release.set()
    _nothing_written(conn)


def test_checks_superseded_by_a_newer_registry_never_run(registry_url, tmp_path, monkeypatch):
    """The registry changed while the import waited for the lock: the delivery is read and
    checked again under the lock; the first last checks, superseded, are not run at all."""
    calls: list[int] = []
    found = pipeline.check_site_statuses

    def counted(*args, **kwargs):
        calls.append(1)
        return found(*args, **kwargs)

    monkeypatch.setattr(pipeline, "check_site_statuses", counted)
    result = import_behind_a_chamber(registry_url, _segment_from_p(tmp_path / "two"))
    assert result.status == "loaded", result.prepared.errors()["message"].tolist()
    assert calls == [1]  # only those under the lock


def test_checks_an_interruption_left_unstarted_never_run(conn, tmp_path, monkeypatch) -> None:
    """Ctrl-C before the rows are staged: the waiting thread ends without checking."""
    ran: list[int] = []
    found = pipeline.check_disconnected_parts

    def counted(segments, sites, findings):
        ran.append(1)
        return found(segments, sites, findings)

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "check_disconnected_parts", counted)
    monkeypatch.setattr(pipeline, "write_transaction", interrupted)
    with pytest.raises(KeyboardInterrupt):
        import_paths(conn, [_delivery(tmp_path)])
    waiting = [t for t in threading.enumerate() if t.name == "recor-last-checks"]
    for thread in waiting:
        thread.join(10)
        assert not thread.is_alive()
    assert ran == []
    _nothing_written(conn)
