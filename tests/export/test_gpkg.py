"""GeoPackage snapshot: GDAL reads it, and ``recor import`` takes it back with no change."""

from __future__ import annotations

from datetime import UTC, datetime

import pyogrio
import pytest
import shapely

from recor import registry
from recor.cli import main
from recor.export import read_snapshot, write_gpkg
from recor.ingest.pipeline import import_paths
from recor.registry.export_read import read_segment_risk_links
from tests.export.builders import UNKNOWN_COUNT_SEGMENTS, load, sample_with_unknowns
from tests.export.conftest import ogr_layers

pytestmark = pytest.mark.db


@pytest.fixture
def loaded(conn, sample_delivery):
    """A fresh registry holding the sample network with two unknown fibre counts."""
    load(conn, sample_with_unknowns(sample_delivery))
    return conn


def test_snapshot_reimports_with_no_change_and_no_batch(loaded, tmp_path, ogrinfo):
    path = write_gpkg(read_snapshot(loaded), tmp_path / "recor.gpkg")
    layers = ogr_layers(ogrinfo, path)
    assert layers["sites"] == len(registry.read_sites(loaded))
    assert layers["segments"] == len(registry.read_segments(loaded))
    assert layers["risk_groups"] == len(registry.read_risk_groups(loaded))
    assert layers["segment_risk_groups"] == len(read_segment_risk_links(loaded))
    assert layers["import_batches"] == 1
    batches_before = registry.list_batches(loaded)

    result = import_paths(loaded, [path])

    assert not result.refused
    assert result.summary is not None and not result.summary.changes_anything()
    assert result.summary.batch_id is None
    assert registry.list_batches(loaded).equals(batches_before)


def test_unknown_fibre_counts_stay_null_in_the_snapshot(loaded, tmp_path):
    path = write_gpkg(read_snapshot(loaded), tmp_path / "recor.gpkg")
    segments = pyogrio.read_dataframe(path, layer="segments")
    unknown = segments[segments["code"].isin(UNKNOWN_COUNT_SEGMENTS)]
    assert unknown["fibre_count"].isna().all()
    assert segments["fibre_count"].notna().sum() == len(segments) - len(UNKNOWN_COUNT_SEGMENTS)


def test_as_of_snapshot_holds_the_past_version_and_brings_it_back(
    loaded, sample_delivery, tmp_path
):
    before = datetime.now(UTC)
    changed = sample_with_unknowns(sample_delivery)
    segments = changed.segments.copy()
    segments.loc[segments["code"] == "SEG-0001", "status"] = "out_of_service"
    load(loaded, type(changed)(changed.sites, segments, changed.risk_groups,
                               changed.segment_risk_groups))  # fmt: skip
    path = write_gpkg(read_snapshot(loaded, as_of=before), tmp_path / "past.gpkg")

    past = pyogrio.read_dataframe(path, layer="segments").set_index("code")
    assert past.loc["SEG-0001", "status"] == "in_service"
    result = import_paths(loaded, [path])
    assert result.summary is not None
    assert result.summary.segments.changed == ["SEG-0001"]
    assert registry.read_segments(loaded).set_index("code").loc["SEG-0001", "status"] == (
        "in_service"
    )


def test_area_snapshot_keeps_both_ends_of_every_segment(loaded, tmp_path):
    area = shapely.box(600_000, 6_740_000, 640_000, 6_780_000)
    snapshot = read_snapshot(loaded, area=area)
    path = write_gpkg(snapshot, tmp_path / "area.gpkg")
    sites = pyogrio.read_dataframe(path, layer="sites")
    segments = pyogrio.read_dataframe(path, layer="segments")
    every = registry.read_segments(loaded)
    expected = set(every.loc[every.geometry.intersects(area), "code"])
    assert set(segments["code"]) == expected and expected
    assert set(segments["site_a"]) | set(segments["site_b"]) <= set(sites["code"])
    result = import_paths(loaded, [path])
    assert result.summary is not None and not result.summary.changes_anything()


def test_cli_writes_the_snapshot_and_refuses_public(registry_url, tmp_path, capsys):
    out = tmp_path / "snap.gpkg"
    assert main(["--database-url", registry_url, "export", "gpkg", str(out)]) == 0
    assert "snap.gpkg" in capsys.readouterr().out
    assert pyogrio.list_layers(out)[:, 0].tolist()[:2] == ["sites", "segments"]
    assert main(["--database-url", registry_url, "export", "gpkg", str(out), "--public"]) == 2
    assert "--public is not available" in capsys.readouterr().err
