"""``recor import``: exit codes, --json, --report, --dry-run, list and undo."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from recor import registry
from recor.cli import imports, main
from recor.config import Settings
from recor.ingest.pipeline import prepare_import
from tests.ingest.ingest_builders import WriteDelivery, segment_frame


def _run(url: str, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="recor")
    imports.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["import", *argv])
    return args.handler(args, Settings().with_("database", url=url))


def test_parse_replace_scope() -> None:
    scope = imports.parse_replace_scope(["source=test", "bbox=0,0,10,10"])
    assert scope.source == "test" and scope.area.area == 100


@pytest.mark.db
def test_cli_loads_reports_and_refuses(
    registry_url: str, write_delivery: WriteDelivery, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    report = tmp_path / "rapport.html"
    assert _run(registry_url, str(write_delivery()), "--json", "--report", str(report)) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "loaded" and summary["counts"]["segments"]["added"] == 2
    assert "Livraison chargée" in report.read_text(encoding="utf-8")
    assert report.with_suffix(".csv").exists()
    bad = write_delivery(segments=segment_frame(fibres=["-3", "24"]), name="bad")
    assert _run(registry_url, str(bad), "--quiet") == 1
    assert "ATTR-RANGE" in capsys.readouterr().err
    changed = write_delivery(segments=segment_frame(fibres=[96, 24]), name="again")
    assert _run(registry_url, str(changed), "--dry-run", "--json", "--report", str(report)) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "dry-run"
    page = report.read_text(encoding="utf-8")
    assert "Simulation" in page and "T-1 (modifié)" in page and "T-2 (inchangé)" in page
    assert _run(registry_url, "list") == 0
    assert "loaded" in capsys.readouterr().out
    assert _run(registry_url, "undo", str(summary["batch_id"]), "--quiet") == 0
    with registry.connect(registry_url, autocommit=True) as conn:
        assert len(registry.read_segments(conn)) == 0


@pytest.mark.db
def test_cli_unknown_crs_is_a_usage_error(
    registry_url: str, write_delivery: WriteDelivery, capsys: pytest.CaptureFixture
) -> None:
    code = main(["--database-url", registry_url, "import", str(write_delivery()), "--crs", "foo"])
    assert code == 2
    assert "--crs 'foo'" in capsys.readouterr().err


@pytest.mark.db
def test_cli_report_in_missing_folder_refused_before_loading(
    registry_url: str, write_delivery: WriteDelivery, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    report = tmp_path / "absent" / "rapport.html"
    delivery = str(write_delivery())
    assert main(["--database-url", registry_url, "import", delivery, "--report", str(report)]) == 2
    assert "--report" in capsys.readouterr().err
    with registry.connect(registry_url, autocommit=True) as conn:
        assert len(registry.read_segments(conn)) == 0
        assert len(registry.list_batches(conn)) == 0


@pytest.mark.db
def test_cli_undo_records_the_login_like_an_import(
    registry_url: str, write_delivery: WriteDelivery, capsys: pytest.CaptureFixture
) -> None:
    assert _run(registry_url, str(write_delivery()), "--json") == 0
    batch = json.loads(capsys.readouterr().out)["batch_id"]
    assert _run(registry_url, "undo", str(batch), "--quiet") == 0
    with registry.connect(registry_url, autocommit=True) as conn:
        users = registry.list_batches(conn).set_index("id")["app_user"]
    assert users.loc[batch] and users.iloc[0] == users.loc[batch]


def test_unknown_layer_is_named(write_delivery: WriteDelivery) -> None:
    prepared = prepare_import([write_delivery()], layer="troncons")
    found = prepared.findings[prepared.findings["rule"] == "SRC-NOT-FOUND"]
    assert list(found["value"]) == ["troncons"]
    assert "segments" in found.iloc[0]["message"] and found.iloc[0]["file"] == "livraison"


@pytest.mark.db
def test_dry_run_report_names_the_codes_replace_scope_would_retire(
    registry_url: str, write_delivery: WriteDelivery, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert _run(registry_url, str(write_delivery()), "--quiet") == 0
    second = write_delivery(segments=segment_frame().iloc[:1], name="v2")
    report = tmp_path / "rapport.html"
    argv = [str(second), "--replace-scope", "source=test", "--dry-run", "--json"]
    assert _run(registry_url, *argv, "--report", str(report)) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["retired"]["segments"] == ["T-2"]
    page = report.read_text(encoding="utf-8")
    assert "Retirés du registre" in page and "<td>T-2</td>" in page


@pytest.mark.db
def test_import_list_says_which_batch_an_undo_undoes(
    registry_url: str, write_delivery: WriteDelivery, capsys: pytest.CaptureFixture
) -> None:
    assert _run(registry_url, str(write_delivery()), "--json") == 0
    batch = json.loads(capsys.readouterr().out)["batch_id"]
    assert _run(registry_url, "undo", str(batch), "--quiet") == 0
    assert _run(registry_url, "list") == 0
    undo_line, undone_line = capsys.readouterr().out.splitlines()[:2]
    assert f"annule le lot {batch}" in undo_line
    assert "(annulé par le lot" in undone_line
