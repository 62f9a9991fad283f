"""One writer at a time, truthfully: overlapping imports, bounded waits, lost commits."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely

from recor import registry
from recor.cli import main
from recor.config import ImportSettings
from recor.errors import RegistryBusy, RegistryError
from recor.ingest.pipeline import ImportResult, import_paths
from recor.registry import BatchInfo, Delivery
from recor.registry.batch import batch_transaction
from recor.registry.lock import LockHolder, LockWait, write_transaction
from tests.registry.faults import cutting_proxy

pytestmark = pytest.mark.db

#: Where the first import puts a chamber, and the second import's segment starts.
P_XY = (619_500.0, 6_756_000.0)
A_XY = (619_000.0, 6_755_000.0)
Z_XY = (620_500.0, 6_756_000.0)
Y_XY = (619_500.0, 6_757_000.0)


def _chamber_delivery() -> Delivery:
    """Import 1: pop S-A, chamber CH at P, segment T-A from S-A to CH."""
    sites = gpd.GeoDataFrame(
        {
            "code": ["S-A", "CH"],
            "name": ["Orléans", "Chambre"],
            "kind": ["pop", "chamber"],
            "operator": [""] * 2,
            "status": ["in_service"] * 2,
            "source": ["one"] * 2,
            "extra": [{}, {}],
        },
        geometry=shapely.points([A_XY, P_XY]),
        crs=2154,
    )
    segments = gpd.GeoDataFrame(
        {
            "code": ["T-A"],
            "site_a": ["S-A"],
            "site_b": ["CH"],
            "fibre_count": [48],
            "fibres_used": [0],
            "cable_type": [""],
            "installation": ["duct"],
            "status": ["in_service"],
            "owner": [""],
            "operator": [""],
            "commissioned_on": [None],
            "source": ["one"],
            "extra": [{}],
        },
        geometry=[shapely.LineString([A_XY, P_XY])],
        crs=2154,
    )
    return Delivery(sites=sites, segments=segments)


def _segment_from_p(folder: Path) -> Path:
    """Import 2, as files: pops S-Z, S-Y and two segments meeting at P, no site declared there.

    On an empty registry the two ends at P become a new junction site.
    """
    folder.mkdir()
    sites = gpd.GeoDataFrame(
        {"code": ["S-Z", "S-Y"], "name": ["Fleury", "Saran"], "kind": ["pop", "pop"],
         "status": ["in_service"] * 2, "source": ["two"] * 2},
        geometry=shapely.points([Z_XY, Y_XY]), crs=2154,
    )  # fmt: skip
    segments = gpd.GeoDataFrame(
        {"code": ["T-B", "T-C"], "site_a": [None, None], "site_b": ["S-Z", "S-Y"],
         "fibres": [24, 24], "install": ["duct"] * 2, "status": ["in_service"] * 2,
         "source": ["two"] * 2},
        geometry=[shapely.LineString([P_XY, Z_XY]), shapely.LineString([P_XY, Y_XY])], crs=2154,
    )  # fmt: skip
    pyogrio.write_dataframe(sites, folder / "sites.shp")
    pyogrio.write_dataframe(segments, folder / "segments.shp")
    return folder


def import_behind_a_chamber(registry_url: str, delivery: Path) -> ImportResult:
    """Import ``delivery`` while another writer loads import 1 (the chamber at P).

    The import looks the registry up before the chamber is committed, waits for the lock,
    and finds a newer registry once it holds it.
    """
    waiting = threading.Event()
    outcome: dict = {}

    def second() -> None:
        with registry.connect(registry_url) as conn:
            outcome["result"] = import_paths(
                conn, [delivery], user="second",
                on_lock_wait=lambda holder, waited: waiting.set(),
            )  # fmt: skip

    with (
        registry.connect(registry_url, autocommit=True) as first,
        write_transaction(first, user="first"),
    ):
        registry.load_delivery(first, _chamber_delivery(), BatchInfo(user="first"))
        thread = threading.Thread(target=second)
        thread.start()
        assert waiting.wait(20), f"the second import must wait for the first {outcome}"
    thread.join(60)
    return outcome["result"]


def test_two_overlapping_imports_leave_one_site_at_a_point(registry_url, tmp_path):
    """Import 2 looks the registry up while import 1 (a chamber at P) is still loading.

    Before: import 2 created junction J-619500-6756000 at P beside the chamber. Now it sees,
    once it holds the lock, that a batch was committed since its lookup and checks again.
    """
    result = import_behind_a_chamber(registry_url, _segment_from_p(tmp_path / "two"))
    assert result.loaded, result.prepared.errors()
    with registry.connect(registry_url, autocommit=True) as conn:
        sites = registry.read_sites(conn)
        segments = registry.read_segments(conn).set_index("code")
    at_p = sites[sites.geometry.distance(shapely.Point(P_XY)) < 1.0]
    assert list(at_p["code"]) == ["CH"]
    assert list(segments.loc[["T-B", "T-C"], "site_a"]) == ["CH", "CH"]
    assert not sites["kind"].eq("junction").any()


def test_an_import_that_finds_the_registry_unchanged_checks_once(conn, tmp_path):
    calls: list[float] = []
    result = import_paths(
        conn, [_segment_from_p(tmp_path / "two")],
        on_lock_wait=lambda holder, waited: calls.append(waited),
    )  # fmt: skip
    assert result.loaded and calls == []
    assert set(registry.read_sites(conn)["kind"]) == {"pop", "junction"}


def test_a_waiting_import_names_the_holder_and_gives_up_after_the_timeout(registry_url, tmp_path):
    delivery = _segment_from_p(tmp_path / "two")
    seen: list[LockHolder | None] = []
    with (
        registry.connect(registry_url, autocommit=True) as holder,
        batch_transaction(holder, BatchInfo(user="alice")) as batch_id,
    ):
        with registry.connect(registry_url) as conn:
            started = datetime.now(UTC)
            result = import_paths(
                conn, [delivery], user="bob", settings=ImportSettings(lock_timeout_s=1.5),
                on_lock_wait=lambda who, waited: seen.append(who),
            )  # fmt: skip
            gave_up = datetime.now(UTC)
        holder.execute("SELECT recor.finish_batch(%s, '{}', 'loaded')", (batch_id,))
        role = holder.info.user
    assert seen and seen[0] is not None
    assert (seen[0].batch_id, seen[0].app_user, seen[0].db_user) == (batch_id, "alice", role)
    assert abs((seen[0].since - started).total_seconds()) < 5
    assert 1.4 <= (gave_up - started).total_seconds() < 10
    assert result.refused
    message = result.prepared.findings.iloc[0]["message"]
    assert f"batch {batch_id} of alice" in message and "gave up after 1.5 s" in message
    with registry.connect(registry_url, autocommit=True) as conn:
        assert "S-Z" not in set(registry.read_sites(conn)["code"])


def test_cli_import_and_undo_report_the_wait_and_honour_lock_timeout(
    registry_url, tmp_path, capsys
):
    delivery = _segment_from_p(tmp_path / "two")
    db = ["--database-url", registry_url]
    assert main([*db, "import", str(delivery), "--quiet"]) == 0
    with (
        registry.connect(registry_url, autocommit=True) as holder,
        write_transaction(holder, user="alice"),
    ):
        capsys.readouterr()
        assert main([*db, "import", "undo", "1", "--lock-timeout", "0.5"]) == 2
        undo_err = capsys.readouterr().err
        assert main([*db, "import", str(delivery), "--lock-timeout", "0.5", "--quiet"]) == 1
        import_err = capsys.readouterr().err
    for err in (undo_err, import_err):
        assert "registre occupé par an import being checked of alice" in err
        assert "gave up after 0.5 s" in err
    assert main([*db, "import", "undo", "1"]) == 0


def test_undo_waits_no_longer_than_asked(registry_url):
    with (
        registry.connect(registry_url, autocommit=True) as holder,
        write_transaction(holder, user="alice"),
        registry.connect(registry_url, autocommit=True) as conn,
        pytest.raises(RegistryBusy, match="held by an import being checked of alice"),
    ):
        registry.undo_batch(conn, 1, wait=LockWait(timeout_s=0.3))


def test_after_a_lost_commit_recor_asks_the_server_and_says_it_committed(registry_url, tmp_path):
    delivery = _segment_from_p(tmp_path / "two")
    with cutting_proxy(registry_url, "after_commit") as proxy:
        with registry.connect(proxy.url(registry_url)) as conn:
            proxy.armed = True
            result = import_paths(conn, [delivery], user="cut")
        assert proxy.cuts == 1
    assert result.loaded and result.summary.batch_id is not None
    assert "committed" in result.summary.commit_note
    with registry.connect(registry_url, autocommit=True) as conn:
        batches = registry.list_batches(conn)
    assert list(batches["id"]) == [result.summary.batch_id]
    assert list(batches["outcome"]) == ["loaded"]


def test_after_a_commit_lost_on_the_way_recor_says_nothing_was_written(registry_url, tmp_path):
    delivery = _segment_from_p(tmp_path / "two")
    with cutting_proxy(registry_url, "before_commit") as proxy:
        with registry.connect(proxy.url(registry_url)) as conn:
            proxy.armed = True
            result = import_paths(conn, [delivery], user="cut")
        assert proxy.cuts == 1
    assert result.refused
    message = result.prepared.findings.iloc[0]["message"]
    assert "rolled back, nothing was written" in message
    with registry.connect(registry_url, autocommit=True) as conn:
        assert registry.list_batches(conn).empty
        assert registry.read_sites(conn).empty


def test_a_write_needs_an_idle_connection(conn):
    conn.autocommit = False
    conn.execute("SELECT 1")
    with pytest.raises(RegistryError, match="no transaction open"), write_transaction(conn):
        pass


def test_generation_is_the_newest_committed_batch(conn, tmp_path):
    assert registry.registry_generation(conn) == 0
    import_paths(conn, [_segment_from_p(tmp_path / "two")])
    assert registry.registry_generation(conn) == int(registry.list_batches(conn)["id"].max())
