"""``recor import``: exit codes, --json, --report, --dry-run, list and undo."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from recor import registry
from recor.cli import imports
from recor.config import Settings
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
