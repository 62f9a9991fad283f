"""``recor export``: formats, levels, dates and refusals."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime

import pytest

from recor.cli import main
from recor.cli.export import FORMATS, parse_as_of


def test_a_date_means_the_end_of_that_day_in_utc():
    assert parse_as_of("2026-11-28") == datetime(2026, 11, 28, 23, 59, 59, 999999, tzinfo=UTC)
    assert parse_as_of("2026-11-28T14:00") == datetime(2026, 11, 28, 14, tzinfo=UTC)
    assert parse_as_of("2026-11-28T14:00+01:00").utcoffset().total_seconds() == 3600


def test_every_format_declares_a_default_level():
    for name, spec in FORMATS.items():
        assert spec.levels and set(spec.levels) <= {"public", "internal"}, name
    assert FORMATS["ofds"].levels[0] == "public"


def test_bad_date_is_refused_before_anything_is_read(capsys):
    with pytest.raises(SystemExit):
        main(["export", "gpkg", "x.gpkg", "--as-of", "28/11/2026"])
    assert "expected a date YYYY-MM-DD" in capsys.readouterr().err


def test_wrong_suffix_is_refused_before_connecting(capsys):
    url = "host=/nonexistent dbname=nowhere"
    assert main(["--database-url", url, "export", "qgis", "project.qgs.txt"]) == 2
    assert "should end in .qgz or .qgs" in capsys.readouterr().err


@pytest.mark.db
def test_an_empty_registry_exports_an_empty_project(registry_url, tmp_path):
    out = tmp_path / "empty.qgz"
    assert main(["--database-url", registry_url, "export", "qgis", str(out)]) == 0
    with zipfile.ZipFile(out) as archive:
        assert archive.namelist() == ["empty.qgs"]
        text = archive.read("empty.qgs").decode("utf-8")
    assert 'table="recor"."active_sites" (geom)' in text
    assert "DefaultViewExtent" not in text


@pytest.mark.db
def test_public_qgis_project_is_refused(registry_url, tmp_path, capsys):
    args = ["--database-url", registry_url, "export", "qgis", str(tmp_path / "p.qgz"), "--public"]
    assert main(args) == 2
    assert "internal only" in capsys.readouterr().err
