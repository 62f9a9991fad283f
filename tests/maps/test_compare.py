"""Maps in time: the registry at a past date, what changed since, and the planned build.

The registry holds the sample (first import), then a second survey delivery: the line to
Le Blanc is finished (4 segments, 3 chambers put in service), the abandoned Beaugency–Mer
cable is removed (2 segments, 1 chamber retired), a new PoP is wired to Saint-Aignan and a
direct Valençay–Châteauroux link gives the Saint-Aignan branch a second path.

Every expected change is recomputed here from the two deliveries (set operations on their
codes and statuses) and every resilience figure from graphs built straight from the
deliveries, never with the comparison code under test.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pytest
import shapely

from recor import network, registry
from recor.cli import main
from recor.config import Settings
from recor.maps import build
from recor.maps._fr import number_fr, version_fr
from recor.maps.browser import Browser
from recor.maps.compare import PLANNED_BUILD_STATUSES, with_planned_build
from recor.maps.comparison_map import CHANGE_STYLES
from recor.maps.styles import MAP_BACKGROUND, STATUS_COLOURS, contrast_ratio
from recor.network.graph import graph_from_delivery
from recor.registry import BatchInfo, Delivery, ReplaceScope
from recor.registry.history import list_batches
from tests.conftest import _create_database, _drop_database, _url_for
from tests.maps.conftest import open_and_check

pytestmark = pytest.mark.db

BUILT = ("SEG-0133", "SEG-0134", "SEG-0135", "SEG-0136", "CH-0086", "CH-0087", "CH-0088")
REMOVED = ("SEG-0153", "SEG-0154", "CH-0098")


def _segment(code: str, a: str, b: str, sites: gpd.GeoDataFrame, like: pd.Series) -> dict:
    xy = sites.set_index("code").geometry
    return {
        **like.to_dict(),
        "code": code,
        "site_a": a,
        "site_b": b,
        "status": "in_service",
        "geometry": shapely.LineString([xy[a], xy[b]]),
    }


def second_survey(sample: Delivery) -> Delivery:
    """The sample as the next survey delivers it (see the module docstring)."""
    sites = sample.sites[~sample.sites["code"].isin(REMOVED)].copy()
    segments = sample.segments[~sample.segments["code"].isin(REMOVED)].copy()
    sites.loc[sites["code"].isin(BUILT), "status"] = "in_service"
    segments.loc[segments["code"].isin(BUILT), "status"] = "in_service"
    anchor = sites.set_index("code").loc["POP-SAINT-AIGNAN"]
    new_site = {
        **anchor.to_dict(),
        "code": "POP-SELLES",
        "name": "PoP Selles-sur-Cher",
        "geometry": shapely.Point(anchor.geometry.x + 9000, anchor.geometry.y + 2000),
    }
    sites = pd.concat([sites, gpd.GeoDataFrame([new_site], crs=sites.crs)], ignore_index=True)
    like = segments.iloc[0]
    extra = [
        _segment("SEG-9001", "POP-SAINT-AIGNAN", "POP-SELLES", sites, like),
        _segment("SEG-9002", "POP-VALENCAY", "POP-CHATEAUROUX", sites, like),
    ]
    segments = pd.concat([segments, gpd.GeoDataFrame(extra, crs=segments.crs)], ignore_index=True)
    return Delivery(sites, segments, sample.risk_groups, sample.segment_risk_groups)


@pytest.fixture(scope="module")
def history(
    postgis_url: str, sample_delivery: Delivery
) -> Iterator[tuple[str, datetime, Delivery]]:
    """A registry with two imports; the time between them; the second delivery."""
    template = psycopg.conninfo.conninfo_to_dict(postgis_url)["dbname"]
    name = f"{template}_history_{uuid.uuid4().hex[:6]}"
    _create_database(name, template=str(template))
    url = _url_for(name)
    later = second_survey(sample_delivery)
    with registry.connect(url, autocommit=True) as conn:
        registry.load_delivery(conn, sample_delivery, BatchInfo(profile="sample"))
        time.sleep(0.05)
        registry.load_delivery(
            conn,
            later,
            BatchInfo(profile="sample"),
            replace_scope=ReplaceScope(source="recor-sample"),
        )
        batches = list_batches(conn)
    first = batches.sort_values("id").iloc[0]
    yield url, first["finished_at"].to_pydatetime(), later
    _drop_database(name)


def _expected_changes(before: pd.DataFrame, after: pd.DataFrame) -> dict[str, set[str]]:
    old = dict(zip(before["code"], before["status"], strict=True))
    new = dict(zip(after["code"], after["status"], strict=True))
    return {
        "added": set(new) - set(old),
        "removed": set(old) - set(new),
        "status": {c for c in set(old) & set(new) if old[c] != new[c]},
    }


def _single_homed(delivery: Delivery, statuses=("in_service",)) -> set[str]:
    graph = graph_from_delivery(delivery, statuses=statuses)
    return set(network.redundancy_report(graph).single_homed["code"])


@pytest.fixture(scope="module")
def snapshots(history) -> tuple[registry.RegistrySnapshot, registry.RegistrySnapshot]:
    url, between, _ = history
    with registry.connect(url) as conn:
        return (
            registry.snapshot(conn, as_of=between, references=False),
            registry.snapshot(conn, references=False),
        )


def test_comparison_finds_the_changes_between_the_two_imports(
    history, snapshots, sample_delivery: Delivery
) -> None:
    _, _, later = history
    before, after = snapshots
    doc = build.build_comparison_map(before, after, Settings())
    spec = doc.spec()
    detail = {t["title"]: t for t in spec["table"]}["Détail des changements"]
    found: dict[tuple[str, str], set[str]] = {}
    words = {"ajouté": "added", "retiré": "removed", "changement d'état": "status"}
    for element, code, _name, change, _b, _a in detail["rows"]:
        found.setdefault((element, words[change]), set()).add(code)
    for element, entity in (("Tronçon", "segments"), ("Site", "sites")):
        expected = _expected_changes(getattr(sample_delivery, entity), getattr(later, entity))
        for change, codes in expected.items():
            assert found.get((element, change), set()) == codes, (element, change)
    assert found[("Tronçon", "added")] == {"SEG-9001", "SEG-9002"}
    assert found[("Site", "removed")] == {"CH-0098"}
    # each change is a layer of the page with as many features
    layers = {layer.id: layer for layer in doc.layers}
    assert layers["changes-segments-status"].geom["n"] == 4
    assert layers["changes-sites-status"].geom["n"] == 3
    assert layers["changes-segments-removed"].geom["n"] == 2


def test_comparison_counts_who_gains_a_second_path(
    history, snapshots, sample_delivery: Delivery
) -> None:
    _, _, later = history
    before, after = snapshots
    spec = build.build_comparison_map(before, after, Settings(), kind="redundancy").spec()
    old, new = _single_homed(sample_delivery), _single_homed(later)
    reached = set(graph_from_delivery(sample_delivery).nodes) & set(
        graph_from_delivery(later).nodes
    )
    gained = (old - new) & reached
    assert gained >= {"POP-SAINT-AIGNAN", "POP-VALENCAY"}
    figures = {
        row[0]: row[1:] for row in {t["title"]: t for t in spec["table"]}["Indicateurs"]["rows"]
    }
    assert figures["Sites mono-raccordés"] == [len(old), len(new), len(new) - len(old)]
    in_service = [
        int((d.segments["status"] == "in_service").sum()) for d in (sample_delivery, later)
    ]
    assert figures["Tronçons en service"][:2] == in_service
    legend = {i["label"] for s in spec["legend"] for i in s["items"]}
    assert f"Sites gagnant un second chemin vers le cœur ({len(gained)})" in legend
    # the provenance says which versions were compared, in French, Paris time
    provenance = dict(spec["provenance"])
    assert provenance["Avant"] == version_fr(before.version)
    assert provenance["Après"] == version_fr(after.version)
    assert (
        "lot d'import 1 du" in provenance["Avant"] and "état du registre au" in provenance["Avant"]
    )
    assert "batch" not in str(spec) and "UTC" not in str(spec)


def test_planned_build_puts_planned_work_in_service_and_counts_second_paths(
    snapshots, history
) -> None:
    _, _, later = history
    _, now = snapshots
    planned = later.segments["status"].isin(PLANNED_BUILD_STATUSES)
    built = with_planned_build(now)
    assert (now.segments["status"].isin(PLANNED_BUILD_STATUSES)).sum() == planned.sum() > 0
    assert not built.segments["status"].isin(PLANNED_BUILD_STATUSES).any()
    spec = build.build_planned_map(now, Settings(), kind="redundancy").spec()
    detail = {t["title"]: t for t in spec["table"]}["Détail des changements"]["rows"]
    assert {r[1] for r in detail if r[0] == "Tronçon"} == set(later.segments.loc[planned, "code"])
    statuses = ("in_service", *PLANNED_BUILD_STATUSES)
    gained = _single_homed(later) - _single_homed(later, statuses)
    legend = {i["label"] for s in spec["legend"] for i in s["items"]}
    assert f"Sites gagnant un second chemin vers le cœur ({len(gained)})" in legend
    assert spec["title"] == "Réseau RECOR après la construction prévue"


def _bands(cells: np.ndarray, delivery: Delivery, bands_km: tuple[float, ...]) -> np.ndarray:
    live = delivery.segments[delivery.segments["status"] == "in_service"]
    network = shapely.union_all(live.geometry.values)
    distance = shapely.distance(cells, network) / 1000.0
    return np.searchsorted(np.asarray(bands_km), distance, side="left")


@pytest.mark.slow
def test_coverage_comparison_counts_cells_nearer_the_network(
    history, snapshots, sample_delivery: Delivery
) -> None:
    """Without communes, both dates are covered on one 2 km grid over both networks."""
    _, _, later = history
    before, after = snapshots
    settings = Settings()
    doc = build.build_comparison_map(before, after, settings, kind="coverage")
    spec = doc.spec()
    # the grid, rebuilt here: 2 km squares aligned on multiples of 2 km over both networks
    live = pd.concat(
        [d.segments[d.segments["status"] == "in_service"] for d in (sample_delivery, later)]
    )
    xmin, ymin, xmax, ymax = live.total_bounds
    cell = settings.maps.grid_cell_m
    xs = np.arange(np.floor(xmin / cell), np.ceil(xmax / cell)) * cell
    ys = np.arange(np.floor(ymin / cell), np.ceil(ymax / cell)) * cell
    gx, gy = (a.ravel() for a in np.meshgrid(xs, ys))
    cells = shapely.box(gx, gy, gx + cell, gy + cell)
    bands = tuple(sorted(settings.maps.distance_bands_km))
    old, new = _bands(cells, sample_delivery, bands), _bands(cells, later, bands)
    figures = {r[0]: r[1:] for r in {t["title"]: t for t in spec["table"]}["Indicateurs"]["rows"]}
    within = [int((old <= 0).sum()), int((new <= 0).sum())]
    assert figures[f"Mailles à {bands[0]:g} km ou moins du réseau"][:2] == within
    assert within[1] > within[0]
    legend = {i["label"] for s in spec["legend"] for i in s["items"]}
    assert f"Plus proches du réseau ({number_fr(int((new < old).sum()))})" in legend
    assert f"Plus loin du réseau ({number_fr(int((new > old).sum()))})" in legend
    layers = {layer.id: layer for layer in doc.layers}
    assert layers["units-changed"].geom["n"] == int((new != old).sum()) > 0


def test_change_colours_are_readable_and_not_a_status_colour() -> None:
    for style in CHANGE_STYLES.values():
        assert contrast_ratio(style["color"], MAP_BACKGROUND) >= 3
        assert style["color"] not in STATUS_COLOURS.values()


def test_as_of_on_coverage_and_maps_from_the_command_line(
    history, sample_delivery: Delivery, tmp_path: Path, capsys
) -> None:
    url, between, _ = history
    db = ["--database-url", url]
    stamp = between.isoformat()
    assert main([*db, "coverage", "--as-of", stamp, "--out", str(tmp_path)]) == 0
    then = pd.read_csv(tmp_path / "coverage_summary.csv", comment="#")
    # the region of a grid covers the whole network: the first survey's in-service length
    first = sample_delivery.segments
    expected_km = first.loc[first["status"] == "in_service"].length.sum() / 1000
    assert then["km_in_service"].iloc[-1] == pytest.approx(expected_km, abs=0.01)
    then_page, now_page = tmp_path / "then.html", tmp_path / "now.html"
    assert main([*db, "map", "network", "--as-of", stamp, "--out", str(then_page)]) == 0
    assert main([*db, "map", "network", "--out", str(now_page)]) == 0
    then_text, now_text = then_page.read_text("utf-8"), now_page.read_text("utf-8")
    assert "état du registre au" in then_text and "état du registre au" not in now_text
    # the two abandoned segments were removed by the second survey: drawn then, not now
    assert "Tronçons : abandonnés" in then_text and "Tronçons : abandonnés" not in now_text


def test_compare_refuses_route_and_a_date_before_the_first_import(
    history, tmp_path: Path, capsys
) -> None:
    url, between, _ = history
    db = ["--database-url", url, "map"]
    out = ["--out", str(tmp_path / "m.html")]
    assert main([*db, "route", "--compare", between.isoformat(), *out]) != 0
    assert "--compare applies to the network, coverage, redundancy maps" in capsys.readouterr().err
    assert main([*db, "network", "--compare", "2000-01-01", *out]) != 0
    err = capsys.readouterr().err
    assert "--compare 2000-01-01T23:59:59.999999+00:00" in err and "held nothing" in err
    assert main([*db, "network", "--public", "--with-planned", *out]) != 0
    assert "internal only" in capsys.readouterr().err
    assert not (tmp_path / "m.html").exists()


@pytest.mark.browser
def test_compare_and_planned_pages_draw_changes_legend_and_counts(
    history, browser: Browser, artifacts: Path, tmp_path: Path, capsys
) -> None:
    url, between, later = history
    db = ["--database-url", url]
    compared = tmp_path / "compare.html"
    planned = tmp_path / "planned.html"
    assert (
        main([*db, "map", "redundancy", "--compare", between.isoformat(), "--out", str(compared)])
        == 0
    )
    assert main([*db, "map", "network", "--with-planned", "--out", str(planned)]) == 0
    report = open_and_check(browser, compared, artifacts)
    assert report.counts["changes-segments-added"] == 2
    assert report.counts["changes-segments-removed"] == 2
    assert report.counts["changes-segments-status"] == 4
    assert report.counts["changes-sites-added"] == 1
    assert report.counts["gained"] >= 2
    drawn = browser.evaluate("window.recorMap.onMap()")
    assert drawn["changes-segments-added"] == 2 and drawn["gained"] == report.counts["gained"]
    legend = browser.evaluate("document.querySelector('.recor-legend').textContent")
    assert "Tronçons ajoutés (2)" in legend and "Tronçons retirés (2)" in legend
    tables = browser.evaluate("document.querySelector('.recor-table').textContent")
    assert "Indicateurs" in tables and "Sites mono-raccordés" in tables
    # French numbers in the page: "1 428,4" km (narrow no-break space, decimal comma)
    row = browser.evaluate(
        "Array.from(document.querySelectorAll('.recor-table-view tbody tr'))"
        ".map(r => r.textContent).find(t => t.startsWith('Linéaire en service'))"
    )
    assert re.search("1\u202f\\d{3},\\d", row), row
    report = open_and_check(browser, planned, artifacts)
    status = int(later.segments["status"].isin(PLANNED_BUILD_STATUSES).sum())
    assert report.counts["changes-segments-status"] == status
    legend = browser.evaluate("document.querySelector('.recor-legend').textContent")
    assert f"Tronçons mis en service par la construction prévue ({status})" in legend


#: The boxes a map page lays over the map: none may cover another, on screen or in print.
_BOXES = (
    ".recor-title",
    ".leaflet-control-zoom",
    ".recor-table",
    ".leaflet-control-layers",
    ".recor-search",
    ".recor-legend",
    ".recor-north",
    ".leaflet-bottom.leaflet-left details.recor-box:not(.recor-legend)",
    ".leaflet-control-scale",
)


def _overlapping_boxes(browser: Browser) -> list[list[str]]:
    return browser.evaluate(
        "(() => { const seen = [];"
        f" for (const s of {list(_BOXES)!r}) for (const e of document.querySelectorAll(s)) {{"
        "   const r = e.getBoundingClientRect();"
        "   if (getComputedStyle(e).display !== 'none' && r.width > 0 && r.height > 0)"
        "     seen.push([s, r.left, r.top, r.right, r.bottom]); }"
        " const out = [];"
        " for (let i = 0; i < seen.length; i++) for (let j = i + 1; j < seen.length; j++) {"
        "   const a = seen[i], b = seen[j];"
        "   if (a[1] < b[3] && b[1] < a[3] && a[2] < b[4] && b[2] < a[4]) out.push([a[0], b[0]]); }"
        " return out; })()"
    )


def test_a_page_of_many_layers_lays_its_boxes_side_by_side(
    history, browser: Browser, tmp_path: Path
) -> None:
    """Title, tables, layer list, search, legend, north arrow, provenance and scale of the
    comparison page (its layer list is the longest) never cover one another: on a 1280x800
    screen the layer list scrolls above the legend; in print (A4) the title heads its corner
    and the north arrow stands above the provenance."""
    url, between, _ = history
    page = tmp_path / "compare.html"
    db = ["--database-url", url]
    assert (
        main([*db, "map", "redundancy", "--compare", between.isoformat(), "--out", str(page)]) == 0
    )
    metrics = {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False}
    browser.call("Emulation.setDeviceMetricsOverride", metrics)
    try:
        assert browser.open_map(page).ready
        shown = browser.evaluate(
            "document.querySelectorAll('.leaflet-control-layers-overlays label').length"
        )
        assert shown >= 15
        assert _overlapping_boxes(browser) == []
        browser.call("Emulation.setEmulatedMedia", {"media": "print"})
        browser.evaluate("window.dispatchEvent(new Event('beforeprint')) && 0")
        assert _overlapping_boxes(browser) == []
    finally:
        browser.call("Emulation.setEmulatedMedia", {"media": ""})
        browser.call("Emulation.clearDeviceMetricsOverride")
