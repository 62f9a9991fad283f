"""Re-deliveries and network warnings: created junctions survive ``--replace-scope``, in-service
segments on sites not in service and deliveries in disconnected parts are reported, and an
out-of-region delivery is quoted in its own coordinates."""

from __future__ import annotations

import pandas as pd
import pytest
import shapely

from recor import registry
from recor.ingest.pipeline import import_paths, prepare_import
from recor.registry.model import ReplaceScope
from tests.ingest.ingest_builders import WriteDelivery, segment_frame, site_frame


def _rules(findings: pd.DataFrame, rule: str) -> pd.DataFrame:
    return findings[findings["rule"] == rule]


def _without_site_b(write_delivery: WriteDelivery, name: str) -> object:
    """A --T-1-- (no site) --T-2-- C: the import creates a junction where T-1 and T-2 meet.

    No ``source`` column: every row, created junctions included, gets the profile's (recor).
    """
    sites = site_frame().iloc[[0, 2]].drop(columns="source")
    segments = segment_frame(site_b=["", "S-C"], site_a=["S-A", ""], status=["in_service"] * 2)
    return write_delivery(sites=sites, segments=segments.drop(columns="source"), name=name)


@pytest.mark.db
def test_replace_scope_keeps_the_junctions_the_import_created(
    conn, write_delivery: WriteDelivery
) -> None:
    first = import_paths(conn, [_without_site_b(write_delivery, "v1")])
    assert first.loaded, first.prepared.errors()
    junctions = first.summary.sites.added
    assert any(code.startswith("J-") for code in junctions)
    again = import_paths(
        conn, [_without_site_b(write_delivery, "v2")], replace_scope=ReplaceScope(source="recor")
    )
    assert again.loaded and not again.refused, again.prepared.findings
    assert again.summary.sites.retired == []
    active = set(registry.read_sites(conn)["code"])
    assert {c for c in junctions if c.startswith("J-")} <= active


@pytest.mark.db
def test_replace_scope_retires_a_created_junction_no_segment_uses(
    conn, write_delivery: WriteDelivery
) -> None:
    import_paths(conn, [_without_site_b(write_delivery, "v1")])
    only_t1 = segment_frame(site_a=["S-A", ""], site_b=["S-C", ""]).iloc[[0]].drop(columns="source")
    only_t1["geometry"] = [
        shapely.LineString([site_frame().geometry.iloc[0], site_frame().geometry.iloc[2]])
    ]
    result = import_paths(
        conn,
        [
            write_delivery(
                sites=site_frame().iloc[[0, 2]].drop(columns="source"), segments=only_t1, name="v2"
            )
        ],
        replace_scope=ReplaceScope(source="recor"),
    )
    assert result.loaded, result.prepared.findings
    assert [c for c in result.summary.sites.retired if c.startswith("J-")]
    assert result.summary.segments.retired == ["T-2"]


def test_in_service_segment_on_a_planned_site_is_a_warning(write_delivery: WriteDelivery) -> None:
    """A --T-1 (in service)-- B (planned) --T-2 (planned)-- C."""
    sites = site_frame(status=["in_service", "planned", "in_service"])
    prepared = prepare_import([write_delivery(sites=sites)])
    assert not prepared.refused, prepared.errors()
    found = _rules(prepared.findings, "TOPO-STATUS-MISMATCH")
    assert list(found["code"]) == ["T-1"] and list(found["field"]) == ["site_b"]
    assert found.iloc[0]["severity"] == "warning"
    assert found.iloc[0]["value"] == "S-B (planned)" and "prévu" in found.iloc[0]["message"]


def test_delivery_in_disconnected_parts_is_a_warning(write_delivery: WriteDelivery) -> None:
    """A --T-1-- B   and, 5 km away, D --T-3-- E: two parts, neither tied to a registry."""
    sites = site_frame()
    far = sites.iloc[[0, 1]].copy()
    far["code"] = ["S-D", "S-E"]
    far["geometry"] = far.geometry.translate(0, 5_000)
    segments = segment_frame()
    other = segments.iloc[[0]].copy()
    other["code"], other["site_a"], other["site_b"] = ["T-3"], ["S-D"], ["S-E"]
    other["geometry"] = other.geometry.translate(0, 5_000)
    delivery = write_delivery(sites=pd.concat([sites, far]), segments=pd.concat([segments, other]))
    prepared = prepare_import([delivery])
    found = _rules(prepared.findings, "TOPO-DISCONNECTED")
    assert len(found) == 1 and found.iloc[0]["code"] == "T-3"
    assert "1 tronçon(s), 2 site(s) (S-D, S-E)" in found.iloc[0]["message"]
    assert not prepared.refused


def test_connected_delivery_has_no_disconnected_warning(write_delivery: WriteDelivery) -> None:
    prepared = prepare_import([write_delivery()])
    assert not len(_rules(prepared.findings, "TOPO-DISCONNECTED"))


def test_outside_region_quotes_the_delivered_coordinates(write_delivery: WriteDelivery) -> None:
    """Lambert-93 points of Marseille, delivered in WGS84: the finding shows the degrees."""
    sites = site_frame()
    sites["geometry"] = shapely.points([(5.37, 43.30), (5.38, 43.30), (5.38, 43.31)])
    prepared = prepare_import([write_delivery(sites=sites.set_crs(4326, allow_override=True))
                               / "sites.shp"])  # fmt: skip
    row = _rules(prepared.findings, "CRS-EXTENT").iloc[0]
    assert row["value"] == "5.37 43.3 (EPSG:4326)"
    assert "RECOR_IMPORTS_REGION_EXTENT" in row["message"]
    assert "coordonnées livrées : 5.37 43.3 (EPSG:4326)" in row["message"]
    assert "CRS faux ?" not in row["message"]
