"""The commands: import boundaries, run the coverage, write every kind of map and open it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from recor import network, registry
from recor.cli import main
from recor.errors import ImportRefused
from recor.maps._fr import version_fr
from recor.maps.boundaries import read_boundaries
from recor.maps.browser import Browser
from recor.registry import BatchInfo, Delivery
from recor.registry.reference import list_reference_layers, read_reference
from tests.maps.conftest import load_registry, open_and_check

pytestmark = pytest.mark.db

RECIPES = Path(__file__).resolve().parents[2] / "maps"


def test_reference_import_reprojects_and_replaces_the_layer(
    conn, registry_url: str, admin_cvl: Path, capsys
) -> None:
    args = ["--database-url", registry_url, "reference", "import"]
    assert main([*args, str(admin_cvl / "departements.geojson"), "--kind", "departements"]) == 0
    assert main([*args, str(admin_cvl / "departements.geojson"), "--kind", "departements"]) == 0
    layer = read_reference(conn, "departements")
    assert sorted(layer["code"]) == ["18", "28", "36", "37", "41", "45"]
    assert layer.crs.to_epsg() == 2154
    assert layer.geometry.geom_type.eq("MultiPolygon").all()
    # Lambert-93 metres: the six départements cover about 39,150 km²
    assert 38_000 < layer.geometry.area.sum() / 1e6 < 40_500
    assert [entry.features for entry in list_reference_layers(conn)] == [6]


def test_reference_file_without_a_code_field_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"label": "x"},
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [[[1, 47], [1.1, 47], [1.1, 47.1], [1, 47]]],
                        },
                    }
                ],
            }
        )
    )
    with pytest.raises(ImportRefused, match="no code field"):
        read_boundaries(path, "communes")


@pytest.mark.browser
@pytest.mark.slow
def test_every_map_kind_opens_clean_from_the_command_line(
    conn,
    registry_url: str,
    sample_delivery: Delivery,
    admin_cvl: Path,
    browser: Browser,
    artifacts: Path,
    tmp_path: Path,
    capsys,
) -> None:
    db = load_registry(conn, registry_url, sample_delivery, admin_cvl)
    assert main([*db, "map", "all", "--out", str(tmp_path)]) == 0
    assert main([*db, "coverage", "--out", str(tmp_path / "csv")]) == 0
    sites = sample_delivery.sites
    pops = sites[sites["kind"] == "pop"]["name"].tolist()
    route = tmp_path / "route.html"
    assert main([*db, "map", "route", "--from", pops[0], "--to", pops[1], "--out", str(route)]) == 0
    segment = sample_delivery.segments["code"].iloc[0]
    whatif = tmp_path / "whatif.html"
    assert main([*db, "map", "whatif", "--segment", segment, "--out", str(whatif)]) == 0
    printed = capsys.readouterr().out
    version = version_fr(registry.registry_version(conn))
    for name in ("network", "coverage", "redundancy", "route", "whatif"):
        path = tmp_path / f"{name}.html"
        assert str(path) in printed
        assert path.stat().st_size < 1_000_000
        report = open_and_check(browser, path, artifacts)
        text = browser.evaluate("JSON.stringify(document.getElementById('recor-spec').textContent)")
        assert version in text, name
        # one cut segment may isolate nothing, and no core site
        may_be_empty = {"cut-sites", "isolated", "core-isolated"}
        drawn = {k: v for k, v in report.counts.items() if k not in may_be_empty}
        assert all(count > 0 for count in drawn.values()), (name, report.counts)
        if name == "network":
            segments, sites = registry.read_segments(conn), registry.read_sites(conn)
            for status, count in segments["status"].value_counts().items():
                assert report.counts[f"segments-{status}"] == count
            for kind, count in sites["kind"].value_counts().items():
                assert report.counts[f"sites-{kind}"] == count
        if name == "redundancy":
            assert report.counts["units"] == 1776
            assert report.counts["bridges"] == len(network.bridges(network.load_graph(conn)))
        if name == "coverage":
            assert report.counts["units"] == 1776
            table = browser.evaluate("document.querySelector('.recor-table').textContent")
            assert "Loiret" in table and "Région" in table
        if name == "whatif":
            assert report.counts["cut-segments"] == 1
    assert (tmp_path / "csv" / "coverage_summary.csv").exists()


@pytest.mark.slow
def test_review_recipes_write_their_maps(
    conn, registry_url: str, sample_delivery: Delivery, tmp_path: Path
) -> None:
    registry.load_delivery(conn, sample_delivery, BatchInfo(profile="sample"))
    env = {**os.environ, "RECOR_DATABASE_URL": registry_url, "RECOR_MAPS_OUT_DIR": str(tmp_path)}
    for recipe in sorted(RECIPES.glob("*.py")):
        done = subprocess.run(
            [sys.executable, str(recipe)], env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        for line in done.stdout.splitlines():
            assert Path(line.split()[-1]).exists()
    written = {p.name for p in tmp_path.iterdir()}
    assert {"network.html", "network_public.html", "coverage.html", "redundancy.html"} <= written
    assert "whatif_flood.html" in written


def test_public_pack_leaves_out_internal_maps_and_chaton_codes(
    conn, registry_url: str, sample_delivery: Delivery, tmp_path: Path, capsys
) -> None:
    registry.load_delivery(conn, sample_delivery, BatchInfo(profile="sample"))
    db = ["--database-url", registry_url]
    assert main([*db, "map", "all", "--public", "--out", str(tmp_path)]) == 0
    assert main([*db, "map", "redundancy", "--public", "--out", str(tmp_path / "r.html")]) == 2
    refused = capsys.readouterr().err
    assert refused.startswith("recor: map redundancy: analysis maps") and "internal only" in refused
    assert not (tmp_path / "redundancy.html").exists()
    chatons = sample_delivery.sites[sample_delivery.sites["kind"] == "chaton"]["code"]
    for name in ("network.html", "coverage.html"):
        html = (tmp_path / name).read_text()
        assert not any(code in html for code in chatons), name


def test_map_out_takes_a_folder_or_an_html_file_and_refuses_anything_else(
    conn, registry_url: str, sample_delivery: Delivery, tmp_path: Path, capsys
) -> None:
    registry.load_delivery(conn, sample_delivery, BatchInfo(profile="sample"))
    db = ["--database-url", registry_url]
    assert main([*db, "map", "network", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "network.html").read_text("utf-8").startswith("<!DOCTYPE html>")
    assert main([*db, "map", "network", "--out", str(tmp_path / "network.png")]) == 2
    assert "a map is an HTML page; expected a .html file" in capsys.readouterr().err
    assert not (tmp_path / "network.png").exists()


def test_map_and_reference_commands_refuse_bad_arguments_without_a_traceback(
    tmp_path: Path, capsys
) -> None:
    db = ["--database-url", "postgresql://nowhere.invalid/recor"]
    missing = tmp_path / "communes.geojson"
    assert main([*db, "reference", "import", str(missing), "--kind", "communes"]) == 2
    assert f"reference file {missing} does not exist" in capsys.readouterr().err
    for circle, message in (
        ("525000,6701000", "expected X,Y,R in EPSG:2154 metres"),
        ("525000,6701000,-10", "the radius R must be more than 0 m"),
    ):
        with pytest.raises(SystemExit) as refused:
            main([*db, "map", "whatif", "--circle", circle])
        assert refused.value.code == 2
        assert message in capsys.readouterr().err
