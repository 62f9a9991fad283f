"""A re-import of the very delivery the newest batch loaded answers at once, and only then.

Every shortcut answer is checked against the full path (``recheck=True``: read, check,
diff against the registry): same status, same counts. Anything that could change the
outcome — a byte of a file, the options, the registry — sends the import down the full path.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from recor import registry
from recor.config import ImportSettings
from recor.errors import RegistryError
from recor.ingest.identity import input_digest
from recor.ingest.pipeline import import_paths
from recor.registry.model import BatchInfo, ReplaceScope
from tests.ingest.ingest_builders import WriteDelivery, segment_frame

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
    from recor.ingest.identity import delivered_files

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
