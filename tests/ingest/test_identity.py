"""A re-import of the very delivery the newest batch loaded answers at once, and only then.

Every shortcut answer is checked against the full path (``recheck=True``: read, check,
diff against the registry): same status, same counts. Anything that could change the
outcome — a byte of a file, the options, the registry — sends the import down the full path.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import psycopg
import pyogrio
import pytest
import shapely
from psycopg import sql

from recor import registry
from recor.config import ImportSettings
from recor.errors import RegistryError
from recor.ingest.identity import delivered_files, input_digest
from recor.ingest.pipeline import import_paths
from recor.registry.model import BatchInfo, ReplaceScope
from recor.registry.read import registry_state
from tests.ingest.ingest_builders import (
    A_XY,
    B_XY,
    C_XY,
    WriteDelivery,
    segment_frame,
    site_frame,
)

pytestmark = pytest.mark.db


def _stages(conn: psycopg.Connection, paths: list[Path], **options: object) -> tuple:
    seen: list[str] = []
    result = import_paths(conn, paths, progress=seen.append, **options)  # type: ignore[arg-type]
    return result, seen


def test_identical_redelivery_is_answered_unread_and_agrees_with_the_full_path(
    conn, write_delivery: WriteDelivery
) -> None:
    folder = write_delivery()
    first = import_paths(conn, [folder], user="agent")
    assert first.status == "loaded"
    digest = conn.execute(
        "SELECT input_digest FROM recor.import_batches WHERE id = %s", (first.summary.batch_id,)
    ).fetchone()[0]
    assert len(digest) == 64
    quick, stages = _stages(conn, [folder])
    assert stages == [] and quick.prepared.identical_to == first.summary.batch_id
    assert quick.status == "unchanged" and quick.loaded and not quick.refused
    finding = quick.prepared.findings.iloc[0]
    assert (
        finding["rule"] == "REG-IDENTICAL"
        and f"lot n° {first.summary.batch_id}" in (finding["message"])
    )
    full, stages = _stages(conn, [folder], recheck=True)
    assert "lecture" in stages and full.prepared.identical_to is None
    assert full.status == "unchanged"
    assert quick.summary.counts() == full.summary.counts()
    assert len(registry.list_batches(conn)) == 1


def test_dry_run_of_an_identical_delivery_is_a_dry_run(conn, write_delivery) -> None:
    folder = write_delivery()
    import_paths(conn, [folder])
    quick = import_paths(conn, [folder], dry_run=True)
    assert quick.status == "dry-run" and quick.prepared.identical_to is not None


def test_one_changed_byte_goes_down_the_full_path(conn, write_delivery) -> None:
    folder = write_delivery()
    import_paths(conn, [folder])
    write_delivery(segments=segment_frame(fibres=[96, 24]))  # same folder, new content
    again, stages = _stages(conn, [folder])
    assert "lecture" in stages and again.status == "loaded"
    assert again.summary.segments.changed == ["T-1"]


@pytest.mark.parametrize(
    "options",
    [
        {"replace_scope": ReplaceScope(source="test")},
        {"settings": ImportSettings(snap_tolerance_m=2.0)},
        {"crs": "EPSG:2154"},
        {"profile": "recor"},
    ],
    ids=["replace-scope", "settings", "crs", "profile"],
)
def test_other_options_go_down_the_full_path(conn, write_delivery, options: dict) -> None:
    folder = write_delivery()
    import_paths(conn, [folder])
    again, stages = _stages(conn, [folder], **options)
    assert "lecture" in stages and again.prepared.identical_to is None
    assert again.status == "unchanged", again.prepared.errors()


def test_a_later_batch_or_an_undo_goes_down_the_full_path(
    conn, write_delivery, sample_delivery
) -> None:
    folder = write_delivery()
    first = import_paths(conn, [folder])
    registry.load_delivery(conn, sample_delivery, BatchInfo(profile="other"))
    again, stages = _stages(conn, [folder])
    assert "lecture" in stages and again.status == "unchanged"
    registry.undo_batch(conn, first.summary.batch_id)
    back, stages = _stages(conn, [folder])
    assert "lecture" in stages and back.status == "loaded"
    assert back.summary.segments.as_dict()["added"] == 2


def test_digest_covers_file_content_names_and_options(write_delivery, tmp_path: Path) -> None:

    folder = write_delivery()
    settings = ImportSettings()
    files = delivered_files([folder], settings)
    assert files is not None and {f.path.rsplit("/", 1)[-1] for f in files} >= {
        "sites.shp",
        "sites.dbf",
        "segments.shx",
    }
    base = {"profile": "auto", "settings": settings, "crs": None, "layer": None}
    digest = input_digest(files, replace_scope=None, **base)
    assert digest == input_digest(files, replace_scope=None, **base)
    assert digest != input_digest(files, replace_scope=None, **{**base, "layer": "sites"})
    renamed = [type(f)(f.path + "x", f.sha256, f.size) for f in files]
    assert digest != input_digest(renamed, replace_scope=None, **base)
    assert delivered_files([tmp_path / "missing"], settings) is None


def test_the_recorded_digest_is_set_once_and_never_changes(conn, write_delivery) -> None:
    first = import_paths(conn, [write_delivery()])
    batch = first.summary.batch_id
    conn.execute("SET ROLE recor_editor")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("UPDATE recor.import_batches SET input_digest = NULL WHERE id = %s", (batch,))
    conn.rollback()
    conn.execute("SET ROLE recor_editor")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="not opened by this"):
        conn.execute("SELECT recor.record_batch_input(%s, %s)", (batch, "0" * 64))
    conn.rollback()
    conn.execute("RESET ROLE")
    with pytest.raises(psycopg.errors.RestrictViolation, match="input digest never changes"):
        conn.execute("UPDATE recor.import_batches SET input_digest = NULL WHERE id = %s", (batch,))
    conn.rollback()


def test_a_malformed_or_second_digest_is_refused(conn, sample_delivery) -> None:
    with pytest.raises(RegistryError, match="64 hexadecimal digits"):
        registry.load_delivery(conn, sample_delivery, BatchInfo(input_digest="not-a-digest"))
    assert registry.list_batches(conn).empty
    conn.execute("BEGIN")
    conn.execute("SELECT recor.take_write_lock('t')")
    batch = conn.execute("SELECT recor.begin_batch('t', 'p', '', '[]', '[]')").fetchone()[0]
    conn.execute("SELECT recor.record_batch_input(%s, %s)", (batch, "a" * 64))
    with pytest.raises(psycopg.errors.RestrictViolation, match="recorded once"):
        conn.execute("SELECT recor.record_batch_input(%s, %s)", (batch, "b" * 64))
    conn.rollback()


def test_cli_says_which_batch_and_rechecks_on_demand(
    registry_url: str, write_delivery: WriteDelivery, capsys: pytest.CaptureFixture
) -> None:
    from recor.cli import main

    argv = ["--database-url", registry_url, "import", str(write_delivery())]
    assert main([*argv, "--quiet"]) == 0
    capsys.readouterr()
    assert main(argv) == 0
    said = capsys.readouterr().out
    assert "identique à celle du lot n° 1" in said and "--recheck" in said
    assert main([*argv, "--recheck", "--json"]) == 0
    full = json.loads(capsys.readouterr().out)
    assert full["status"] == "unchanged"
    assert not any(f["rule"] == "REG-IDENTICAL" for f in full["findings"])
    assert main([*argv, "--json"]) == 0
    quick = json.loads(capsys.readouterr().out)
    assert quick["status"] == "unchanged" and quick["counts"] == full["counts"]
    assert [f["rule"] for f in quick["findings"]] == ["REG-IDENTICAL"]


# -- what the review of this shortcut found: each case now goes down the full path --------


def _csv_delivery(folder: Path) -> list[Path]:
    folder.mkdir(exist_ok=True)
    paths = []
    for name, frame in (("sites", site_frame()), ("segments", segment_frame())):
        table = frame.drop(columns="geometry").assign(wkt=frame.geometry.to_wkt())
        table.to_csv(folder / f"{name}.csv", index=False)
        paths.append(folder / f"{name}.csv")
    return paths


def test_a_code_page_file_beside_a_csv_is_part_of_the_delivery(conn, tmp_path: Path) -> None:
    paths = _csv_delivery(tmp_path / "d")
    assert import_paths(conn, paths, crs=2154).status == "loaded"
    (tmp_path / "d" / "segments.cpg").write_text("nonsense-codec")
    quick = import_paths(conn, paths, crs=2154)
    full = import_paths(conn, paths, crs=2154, recheck=True)
    assert quick.prepared.identical_to is None
    assert quick.status == full.status == "refused"


def test_a_geopackage_write_ahead_log_is_part_of_the_delivery(conn, tmp_path: Path) -> None:
    gpkg = tmp_path / "net.gpkg"
    pyogrio.write_dataframe(site_frame(), gpkg, layer="sites")
    pyogrio.write_dataframe(segment_frame(), gpkg, layer="segments", append=True)
    with closing(sqlite3.connect(gpkg)) as db:
        db.execute("PRAGMA journal_mode=WAL")
    assert import_paths(conn, [gpkg]).status == "loaded"
    with closing(sqlite3.connect(gpkg)) as db:  # an edit still in the -wal file (QGIS does so)
        for name in ("ST_IsEmpty", "ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):
            db.create_function(name, 1, lambda _g: 0)  # the GeoPackage's update triggers
        db.execute("PRAGMA wal_autocheckpoint=0")
        db.execute("UPDATE segments SET fibres = 96 WHERE code = 'T-1'")
        db.commit()
        assert Path(f"{gpkg}-wal").exists()
        quick = import_paths(conn, [gpkg], dry_run=True)
        full = import_paths(conn, [gpkg], dry_run=True, recheck=True)
    assert quick.prepared.identical_to is None
    assert quick.summary.segments.changed == full.summary.segments.changed == ["T-1"]


def test_registry_settings_are_part_of_the_digest(conn, write_delivery) -> None:
    folder = write_delivery()
    assert import_paths(conn, [folder]).status == "loaded"
    moved = segment_frame(fibres=[48, 96])
    moved.geometry = [  # T-1 moved by 0.5 mm: within the 1 mm geometry tolerance
        shapely.LineString([A_XY, (619_500.0005, 6_755_100.0), B_XY]),
        shapely.LineString([B_XY, (620_100.0, 6_755_500.0), C_XY]),
    ]
    write_delivery(segments=moved)
    assert import_paths(conn, [folder]).summary.segments.changed == ["T-2"]
    conn.execute(
        "UPDATE recor.registry_settings SET value = '0.0000001' WHERE key = 'geometry_tolerance_m'"
    )
    quick = import_paths(conn, [folder], dry_run=True)
    full = import_paths(conn, [folder], dry_run=True, recheck=True)
    assert quick.prepared.identical_to is None
    assert quick.summary.segments.changed == full.summary.segments.changed == ["T-1"]


@pytest.fixture
def editor_login(registry_url: str) -> Iterator[str]:
    """A login of its own holding the editor role (another member of staff)."""
    name = f"recor_test_editor_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(registry_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE recor_editor").format(
            sql.Identifier(name)))  # fmt: skip
    params = psycopg.conninfo.conninfo_to_dict(registry_url)
    params["user"] = name
    yield psycopg.conninfo.make_conninfo(**params)
    with psycopg.connect(registry_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
        admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def test_a_digest_recorded_by_another_login_is_not_trusted(
    conn, write_delivery, sample_delivery, editor_login: str
) -> None:
    """An editor records the digest of a delivery it did not load: nobody else is fooled."""
    folder = write_delivery()
    settings = ImportSettings()
    with registry.connect(editor_login, autocommit=True) as editor:
        forged = input_digest(
            delivered_files([folder], settings), profile="auto", settings=settings, crs=None,
            layer=None, replace_scope=None, registry_state=registry_state(editor),
        )  # fmt: skip
        registry.load_delivery(editor, sample_delivery, BatchInfo(input_digest=forged))
    honest = import_paths(conn, [folder])
    assert honest.prepared.identical_to is None and honest.status == "loaded"
    assert honest.summary.segments.as_dict()["added"] == 2


def test_the_geometry_beside_a_dbf_given_alone_is_part_of_the_delivery(
    conn, write_delivery
) -> None:
    """GDAL reads a .dbf given alone as its whole Shapefile: .shp, .shx and .prj count."""
    folder = write_delivery()
    paths = [folder / "sites.dbf", folder / "segments.shp"]
    assert import_paths(conn, paths).status == "loaded"
    before = (folder / "sites.dbf").read_bytes()
    moved = site_frame()
    moved.geometry = shapely.points([A_XY, B_XY, (C_XY[0] + 0.4, C_XY[1])])
    pyogrio.write_dataframe(moved, folder / "sites.shp")  # the table itself stays the same
    assert (folder / "sites.dbf").read_bytes() == before
    quick = import_paths(conn, paths, dry_run=True)
    full = import_paths(conn, paths, dry_run=True, recheck=True)
    assert quick.prepared.identical_to is None
    assert quick.summary.sites.changed == full.summary.sites.changed == ["S-C"]
