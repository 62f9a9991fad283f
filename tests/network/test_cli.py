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


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["route", "A", "B", "--k", "0"], "argument --k: 0: expected 1 or more"),
        (["route", "A", "B", "--min-free", "-5"], "argument --min-free: -5: expected 0 or more"),
        (["route", "A", "B", "--wavelength", "850"], "invalid choice: 850"),
        (["route", "A", "B", "--status", "bogus"], "invalid choice: 'bogus'"),
        (["redundancy", "--top", "-1"], "argument --top: -1: expected 0 or more"),
        (["whatif", "--circle", "525000,6701000"], "expected X,Y,R in EPSG:2154 metres"),
        (["whatif", "--circle", "525000,6701000,-5000"], "radius R must be more than 0 m"),
        (["whatif", "--worst-disk", "0"], "argument --worst-disk: 0: expected more than 0"),
        (["whatif", "--area", "garbage"], "neither a file nor polygon WKT in EPSG:2154"),
        (["whatif", "--area", "POLYGON((0 0, 1 1))"], "neither a file nor polygon WKT"),
        (["diverse", "A", "B", "--avoid-area", "POINT (1 2)"], "not a polygon with an area"),
    ],
)
def test_absurd_parameters_are_refused_by_name_before_any_analysis(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """k = 0, a negative radius, an unknown status or wavelength: a usage error, no traceback."""
    with pytest.raises(SystemExit) as refused:
        main(["--database-url", "postgresql://nowhere.invalid/recor", *argv])
    assert refused.value.code == 2
    assert message in capsys.readouterr().err


def test_outputs_state_their_crs_and_the_parameters_they_were_computed_with(
    sample_registry_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["route", "POP-ORLEANS", "POP-BOURGES", "--k", "2", "--budget-db", "30"]
    text = _run(sample_registry_url, argv, capsys)
    assert "Parameters: statuses ['in_service']; as_of now; k 2;" in text
    assert "wavelength 1550; budget_db 30.0" in text
    payload = json.loads(_run(sample_registry_url, [*argv, "--json"], capsys))
    assert payload["crs"] == "EPSG:2154"
    assert payload["parameters"]["as_of"] == "now"
    assert payload["parameters"]["k"] == 2 and payload["parameters"]["budget_db"] == 30
    out = tmp_path / "disk.csv"
    whatif = ["whatif", "--circle", "618500,6756400,3000", "--all-statuses", "--out", str(out)]
    text = _run(sample_registry_url, whatif, capsys)
    assert "statuses all;" in text and "circle [618500.0, 6756400.0, 3000.0]" in text
    assert f"written: {out} (coordinates in EPSG:2154, Lambert-93 metres)" in text


def test_redundancy_says_when_a_splitting_group_cuts_no_site_off_the_core(
    sample_registry_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both links of the Orléans datacentre cross the Loire bridge: cutting the group splits
    the network, yet every part keeps a datacentre, so no site is cut off the core."""
    text = _run(sample_registry_url, ["redundancy", "--top", "0"], capsys)
    assert (
        "shared-risk group BRIDGE-ORLEANS-LOIRE splits the network (SEG-0146, SEG-0155); "
        "sites cut off the core: none (each part keeps a core site)"
    ) in text
    assert "cut off the core: POP-FLEURY-LES-AUBRAIS" in text


def test_an_empty_registry_view_and_a_missing_out_folder_are_named(
    sample_registry_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--database-url", sample_registry_url]
    assert (
        main([*db, "route", "POP-ORLEANS", "POP-TOURS", "--as-of", "2001-01-01T00:00+00:00"]) == 2
    )
    assert "the registry has no site (in_service) as of 2001-01-01T00:00:00+00:00" in (
        capsys.readouterr().err
    )
    assert main([*db, "route", "POP-ORLEANS", "POP-TOURS", "--status", "abandoned"]) == 2
    assert (
        "in the graph (" in (err := capsys.readouterr().err)
        and "status abandoned); sites of other statuses: --status or --all-statuses" in err
    )
    out = tmp_path / "missing" / "routes.geojson"
    assert main([*db, "route", "POP-ORLEANS", "POP-TOURS", "--out", str(out)]) == 2
    assert f"folder {out.parent} does not exist" in capsys.readouterr().err


def test_route_table_prints_a_pass_verdict_only_when_a_budget_is_given(
    sample_registry_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _run(sample_registry_url, ["route", "POP-ORLEANS", "POP-TOURS"], capsys)
    table = text.splitlines()[2:]
    assert "passes" not in table[0] and not any("None" in row for row in table[1:])
    argv = ["route", "POP-ORLEANS", "POP-TOURS", "--budget-db", "60"]
    assert "passes" in _run(sample_registry_url, argv, capsys)
