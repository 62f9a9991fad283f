"""``registry.snapshot``: one read of everything a command needs, equal to the single reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from recor import network, registry
from recor.config import Settings
from recor.maps import build
from recor.maps.boundaries import read_boundaries
from recor.registry import BatchInfo
from recor.registry.reference import read_reference, write_reference

pytestmark = pytest.mark.db


def test_snapshot_holds_what_the_single_reads_return(
    conn, sample_delivery, admin_cvl: Path
) -> None:
    registry.load_delivery(conn, sample_delivery, BatchInfo(profile="sample"))
    path = admin_cvl / "departements.geojson"
    areas = read_boundaries(path, "departements")
    write_reference(
        conn, areas, kind="departements", source_file=str(path), sha256="x", source_crs="EPSG:2154"
    )
    snap = registry.snapshot(conn)
    assert snap.sites.equals(registry.read_sites(conn))
    assert snap.segments.equals(registry.read_segments(conn))
    assert snap.risk_groups.equals(registry.read_risk_groups(conn))
    assert snap.version == registry.registry_version(conn)
    assert list(snap.references) == ["departements"]
    assert snap.references["departements"].equals(read_reference(conn, "departements"))
    assert snap.cog.empty
    # the boundary layers of the maps come from the snapshot, not from another read
    assert list(build.reference_layers(snap)) == ["departements"]
    bare = registry.snapshot(conn, references=False)
    assert bare.references == {} and bare.cog.empty


def test_snapshot_graph_is_the_registry_graph(conn, sample_delivery) -> None:
    registry.load_delivery(conn, sample_delivery, BatchInfo(profile="sample"))
    snap = registry.snapshot(conn)
    built = network.snapshot_graph(snap)
    loaded = network.load_graph(conn, cache=network.GraphCache())
    assert built.graph["version"] == loaded.graph["version"]
    assert built.graph["statuses"] == loaded.graph["statuses"]
    assert dict(built.nodes(data=True)) == dict(loaded.nodes(data=True))
    edges = sorted(built.edges(keys=True, data=True), key=lambda e: e[2])
    assert edges == sorted(loaded.edges(keys=True, data=True), key=lambda e: e[2])
    # the resilience report of map all and coverage is the one recor redundancy computes
    settings = Settings()
    once = build.resilience_report(built, settings)
    again = network.redundancy_report(loaded, settings=settings.network, level="srlg")
    assert once.single_homed["code"].tolist() == again.single_homed["code"].tolist()
