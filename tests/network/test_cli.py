"""``recor route / diverse / redundancy / whatif`` against the sample registry."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from recor.cli import main
from recor.cli import network as cli
from recor.config import Settings

pytestmark = pytest.mark.db


def _run(url: str, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    parser = argparse.ArgumentParser(prog="recor")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    assert args.handler(args, Settings().with_("database", url=url)) == 0
    return capsys.readouterr().out


def test_route_prints_a_table_with_the_data_version(
    sample_registry_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _run(sample_registry_url, ["route", "PoP Orléans", "POP-BOURGES", "--k", "2"], capsys)
    assert out.startswith("Data: batch ")
    assert "POP-ORLEANS > " in out and "loss_db" in out


def test_route_json_has_geometry_optics_and_parameters(
    sample_registry_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["route", "POP-ORLEANS", "POP-BOURGES", "--min-free", "10", "--budget-db", "30"]
    payload = json.loads(_run(sample_registry_url, [*argv, "--json"], capsys))
    route = payload["routes"][0]
    assert route["geometry"]["type"] == "LineString"
    assert route["min_free_fibres"] >= 10
    assert route["optical"]["budget_db"] == 30
    assert payload["provenance"]["parameters"]["min_free_fibres"] == 10


def test_diverse_writes_geojson(
    sample_registry_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pair.geojson"
    text = _run(
        sample_registry_url, ["diverse", "POP-ORLEANS", "POP-BOURGES", "--out", str(out)], capsys
    )
    assert "srlg: disjoint" in text
    pair = gpd.read_file(out)
    assert list(pair["role"]) == ["primary", "secondary"]
    assert pair.geometry.geom_type.tolist() == ["LineString", "LineString"]


def test_redundancy_lists_single_homed_sites_and_writes_csv(
    sample_registry_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sites.csv"
    text = _run(sample_registry_url, ["redundancy", "--top", "5", "--out", str(out)], capsys)
    assert "single-homed sites:" in text and "new_build_km" in text
    sites = pd.read_csv(out)
    assert {"code", "edge_paths", "srlg_paths", "wkt"} <= set(sites.columns)
    payload = json.loads(_run(sample_registry_url, ["redundancy", "--json"], capsys))
    assert payload["core"] and payload["single_homed"]


def test_whatif_on_a_shared_risk_group_and_a_circle(
    sample_registry_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = json.loads(
        _run(sample_registry_url, ["whatif", "--group", "DUCT-ORLEANS-FLEURY", "--json"], capsys)
    )
    assert "POP-FLEURY-LES-AUBRAIS" in payload["sites_cut_off"]
    text = _run(sample_registry_url, ["whatif", "--circle", "618500,6756400,3000"], capsys)
    assert "routes broken:" in text


def test_whatif_worst_disk(sample_registry_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    payload = json.loads(
        _run(sample_registry_url, ["whatif", "--worst-disk", "5000", "--json"], capsys)
    )
    assert payload["value"] > 0 and payload["upper_bound"] >= payload["value"]
    assert len(payload["centre"]) == 2


def test_the_recor_command_routes_and_refuses_unknown_sites(
    sample_registry_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--database-url", sample_registry_url, "route", "POP-ORLEANS", "POP-TOURS", "--json"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["routes"][0]["target"] == "POP-TOURS"
    assert main(["--database-url", sample_registry_url, "route", "Nowhere", "POP-TOURS"]) == 2
    assert "no site with code or name 'Nowhere'" in capsys.readouterr().err


def test_whatif_writes_broken_routes_and_the_worst_disk(
    sample_registry_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    routes = tmp_path / "broken.geojson"
    _run(
        sample_registry_url,
        ["whatif", "--group", "BRIDGE-ORLEANS-LOIRE", "--out", str(routes)],
        capsys,
    )
    broken = gpd.read_file(routes)
    assert len(broken) and broken["broken"].all()
    assert broken.geometry.geom_type.eq("LineString").all()
    disk = tmp_path / "disk.csv"
    _run(sample_registry_url, ["whatif", "--worst-disk", "3000", "--out", str(disk)], capsys)
    row = pd.read_csv(disk).iloc[0]
    assert row["wkt"].startswith("POLYGON") and row["radius_m"] == 3000
