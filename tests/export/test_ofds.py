"""OFDS publication: valid against the standard's schema, public level really public."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pyproj
import pytest

from recor import registry
from recor.cli import main
from recor.config import MapSettings
from recor.export import ofds_geojson, ofds_network, read_snapshot, write_ofds
from tests.export.builders import UNKNOWN_COUNT_SEGMENTS, load, sample_with_unknowns

pytestmark = pytest.mark.db

_TO_WGS84 = pyproj.Transformer.from_crs(2154, 4326, always_xy=True)


@pytest.fixture
def loaded(conn, sample_delivery):
    load(conn, sample_with_unknowns(sample_delivery))
    return conn


def _validate(schema: dict, network: dict) -> list[str]:
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(network)]


def _network_from_geojson(nodes: dict, spans: dict) -> dict:
    """Rebuild the network from the GeoJSON form, as the standard's converter does."""
    meta = (nodes["features"] or spans["features"])[0]["properties"]["network"]
    network = dict(meta)

    def collapse(props: dict) -> dict:
        out = {k: v for k, v in props.items() if k not in ("network", "featureType")}
        for key in ("physicalInfrastructureProvider",):
            if key in out:
                out[key] = {"id": out[key]["id"], "name": out[key]["name"]}
        if "networkProviders" in out:
            out["networkProviders"] = [
                {"id": o["id"], "name": o["name"]} for o in out["networkProviders"]
            ]
        return out

    network["nodes"] = [
        collapse(f["properties"]) | {"location": f["geometry"]} for f in nodes["features"]
    ]
    network["spans"] = []
    for feature in spans["features"]:
        span = collapse(feature["properties"]) | {"route": feature["geometry"]}
        for end in ("start", "end"):
            if end in span:
                span[end] = span[end]["id"]
        network["spans"].append(span)
    return network


@pytest.mark.parametrize("level", ["public", "internal"])
def test_package_and_geojson_validate_against_the_ofds_schema(loaded, ofds_schema, tmp_path, level):
    network = ofds_network(read_snapshot(loaded), level=level)
    paths = write_ofds(network, tmp_path)

    package = json.loads(paths["package"].read_text("utf-8"))
    assert len(package["networks"]) == 1
    assert _validate(ofds_schema, package["networks"][0]) == []
    nodes = json.loads(paths["nodes"].read_text("utf-8"))
    spans = json.loads(paths["spans"].read_text("utf-8"))
    assert {f["properties"]["featureType"] for f in nodes["features"]} == {"node"}
    assert {f["properties"]["featureType"] for f in spans["features"]} == {"span"}
    rebuilt = _network_from_geojson(nodes, spans)
    assert _validate(ofds_schema, rebuilt) == []
    assert rebuilt["nodes"] == package["networks"][0]["nodes"]
    assert rebuilt["spans"] == package["networks"][0]["spans"]


def test_the_schema_check_catches_a_broken_publication(loaded, ofds_schema):
    network = ofds_network(read_snapshot(loaded))
    network["spans"][0]["fibreCount"] = "beaucoup"
    network["nodes"][0]["status"] = "in_service"
    assert len(_validate(ofds_schema, network)) == 2


def test_public_level_coarsens_chaton_and_leaves_out_chambers_and_internal_fields(loaded):
    sites = registry.read_sites(loaded)
    network = ofds_network(read_snapshot(loaded), level="public")
    nodes = {n["id"]: n for n in network["nodes"]}

    hidden = sites.loc[sites["kind"].isin(["chamber", "junction"]), "code"]
    assert len(hidden) and not set(hidden) & set(nodes)
    shown = sites.loc[~sites["kind"].isin(["chamber", "junction", "chaton"]), "code"]
    assert set(nodes) - set(shown) == {n for n in nodes if n.startswith("CHATON-")}
    assert len(nodes) == len(shown) + (sites["kind"] == "chaton").sum()
    cell = MapSettings().public_coarsen_m
    for _, chaton in sites[sites["kind"] == "chaton"].iterrows():
        x, y = chaton.geometry.x, chaton.geometry.y
        centre = _TO_WGS84.transform((np.floor(x / cell) + 0.5) * cell,
                                     (np.floor(y / cell) + 0.5) * cell)  # fmt: skip
        exact = _TO_WGS84.transform(x, y)
        published = nodes[f"CHATON-{int(np.floor(x / cell))}-{int(np.floor(y / cell))}"]
        assert chaton["code"] not in nodes
        assert published["location"]["coordinates"] == pytest.approx(list(centre), abs=1e-6)
        assert published["location"]["coordinates"] != pytest.approx(list(exact), abs=1e-5)
        assert published["name"] == "Nœud CHATON"
    for span in network["spans"]:
        assert not {"deployment", "readyForServiceDate", "fibreTypeDetails"} & set(span)
        for end in ("start", "end"):
            assert span.get(end, "absent") not in set(hidden)
    assert "niveau public" in network["accuracyDetails"].lower()
    assert "CHATON" in network["accuracyDetails"]


def test_internal_level_keeps_every_site_and_deployment(loaded):
    sites = registry.read_sites(loaded)
    network = ofds_network(read_snapshot(loaded), level="internal")
    assert {n["id"] for n in network["nodes"]} == set(sites["code"])
    assert any("deployment" in s for s in network["spans"])
    assert "interne" in network["accuracyDetails"]


def test_unknown_fibre_counts_are_absent_not_zero(loaded):
    segments = registry.read_segments(loaded).set_index("code")
    for level in ("public", "internal"):
        spans = {s["id"]: s for s in ofds_network(read_snapshot(loaded), level=level)["spans"]}
        for code in UNKNOWN_COUNT_SEGMENTS:
            assert "fibreCount" not in spans[code]
        known = next(c for c in spans if c not in UNKNOWN_COUNT_SEGMENTS)
        assert spans[known]["fibreCount"] == segments.loc[known, "fibre_count"]


def test_geojson_form_expands_references(loaded):
    network = ofds_network(read_snapshot(loaded), level="internal")
    _, spans = ofds_geojson(network)
    span = next(f for f in spans["features"] if "start" in f["properties"])
    assert span["properties"]["start"]["location"]["type"] == "Point"
    assert span["geometry"]["type"] == "LineString"
    provider = span["properties"].get("physicalInfrastructureProvider")
    if provider is not None:
        assert "roles" in provider


def test_cli_publishes_public_by_default(sample_registry_url, tmp_path, capsys):
    out = tmp_path / "ofds"
    assert main(["--database-url", sample_registry_url, "export", "ofds", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "(public," in printed
    package = json.loads((out / "network-package.json").read_text("utf-8"))
    kinds = {n.get("type", ["-"])[0] for n in package["networks"][0]["nodes"]}
    assert "aggregationPoint" not in kinds
