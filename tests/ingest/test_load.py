"""End-to-end imports against a real throwaway registry: all or nothing, idempotent, undo."""

from __future__ import annotations

from pathlib import Path

import pyogrio
import pytest
import shapely

from recor import registry
from recor.ingest.pipeline import import_paths
from recor.registry.model import ReplaceScope
from recor.sample import build_sample, write_sample
from tests.ingest.ingest_builders import A_XY, B_XY, WriteDelivery, segment_frame, site_frame

pytestmark = pytest.mark.db


def _counts(conn) -> tuple[int, int, int]:
    sites = len(registry.read_sites(conn))
    segments = len(registry.read_segments(conn))
    batches = len(registry.list_batches(conn))
    return sites, segments, batches


def test_import_loads_small_shapefile_delivery(conn, write_delivery: WriteDelivery) -> None:
    result = import_paths(conn, [write_delivery()], user="test")
    assert result.loaded, result.prepared.errors()
    assert result.summary.sites.as_dict()["added"] == 3
    segments = registry.read_segments(conn)
    row = segments.set_index("code").loc["T-1"]
    assert (row.site_a, row.site_b, row.fibre_count, row.fibres_used) == ("S-A", "S-B", 48, 12)
    assert row.installation == "duct"


def test_import_of_same_delivery_twice_changes_nothing(conn, write_delivery: WriteDelivery) -> None:
    folder = write_delivery()
    first = import_paths(conn, [folder])
    second = import_paths(conn, [folder], recheck=True)  # read and diffed, not short-cut
    assert first.status == "loaded" and second.status == "unchanged" and second.loaded
    assert second.summary.segments.as_dict() == {
        "added": 0,
        "changed": 0,
        "unchanged": 2,
        "retired": 0,
    }
    assert second.summary.sites.as_dict()["unchanged"] == 3


def test_new_version_updates_adds_and_retires_within_scope(
    conn, write_delivery: WriteDelivery
) -> None:
    import_paths(conn, [write_delivery(name="v1")])
    v2 = segment_frame(fibres=[96, 24]).iloc[[0]]
    result = import_paths(
        conn, [write_delivery(segments=v2, name="v2")], replace_scope=ReplaceScope(source="test")
    )
    assert result.loaded, result.prepared.errors()
    assert result.summary.segments.changed == ["T-1"]
    assert result.summary.segments.retired == ["T-2"]


def test_refused_import_leaves_registry_unchanged(conn, write_delivery: WriteDelivery) -> None:
    import_paths(conn, [write_delivery(name="v1")])
    before = _counts(conn)
    bad = segment_frame(fibres=[48, 24], fibres_use=[12, 30])
    result = import_paths(conn, [write_delivery(segments=bad, name="bad")])
    assert result.refused and not result.loaded
    assert "ATTR-FIBRES-USED" in set(result.prepared.findings["rule"])
    assert _counts(conn) == before


def test_dry_run_shows_diff_without_writing(conn, write_delivery: WriteDelivery) -> None:
    result = import_paths(conn, [write_delivery()], dry_run=True)
    assert not result.refused and result.summary.segments.as_dict()["added"] == 2
    assert _counts(conn) == (0, 0, 0)


def test_undo_restores_previous_state(conn, write_delivery: WriteDelivery) -> None:
    result = import_paths(conn, [write_delivery()])
    registry.undo_batch(conn, result.summary.batch_id, user="test")
    assert len(registry.read_segments(conn)) == 0


def test_sample_shapefile_and_geopackage_import(conn, tmp_path: Path) -> None:
    delivery = build_sample()
    paths = write_sample(delivery, tmp_path)
    result = import_paths(conn, [paths["shp"]])
    assert result.loaded, result.prepared.errors().head()
    assert result.summary.segments.as_dict()["added"] == len(delivery.segments)
    again = import_paths(conn, [paths["gpkg"]])
    assert again.summary.segments.as_dict()["changed"] == 0, again.summary.segments.changed[:5]


def test_segments_snap_to_sites_already_in_registry(conn, tmp_path: Path) -> None:
    """v1 loads sites S-A, S-B; v2 delivers only a segment drawn 0.5 m off them."""
    sites_only = tmp_path / "sites.gpkg"
    pyogrio.write_dataframe(site_frame(), sites_only, layer="sites")
    assert import_paths(conn, [sites_only]).loaded
    segment = segment_frame(site_a=[None, None], site_b=[None, None]).iloc[[0]]
    segment["geometry"] = [shapely.LineString([(A_XY[0] + 0.5, A_XY[1]), (B_XY[0], B_XY[1] - 0.5)])]
    path = tmp_path / "segments.gpkg"
    pyogrio.write_dataframe(segment, path, layer="segments")
    result = import_paths(conn, [path])
    assert result.loaded, result.prepared.errors()
    row = registry.read_segments(conn).set_index("code").loc["T-1"]
    assert (row.site_a, row.site_b) == ("S-A", "S-B")


@pytest.mark.db
def test_registry_refusal_is_reported_in_french_and_writes_nothing(
    conn, write_delivery: WriteDelivery, tmp_path: Path
) -> None:
    """Retiring S-C (--replace-scope prefix=S-C) while T-2, not delivered, still ends there."""
    assert import_paths(conn, [write_delivery()]).loaded
    sites_only = tmp_path / "sites.gpkg"
    pyogrio.write_dataframe(site_frame().iloc[:2], sites_only, layer="sites")
    result = import_paths(conn, [sites_only], replace_scope=ReplaceScope(code_prefix="S-C"))
    assert result.refused
    row = result.prepared.findings.iloc[0]
    assert row["rule"] == "REG-REFUSED" and row["file"].endswith("sites.gpkg")
    assert row["message"].startswith("le registre a refusé le chargement, rien n'a été écrit")
    assert "S-C" in set(registry.read_sites(conn)["code"])
