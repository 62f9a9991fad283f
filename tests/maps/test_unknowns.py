"""Every map kind and the coverage on segments whose fibre count or usage nobody knows.

Unknown is not zero: a segment without a fibre count shows "inconnu" in its popup, its free
fibres are unknown when its usage is, the coverage counts no fibre-kilometre for it and
reports its length apart, and nothing prints NaN, None, null or undefined.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recor import network, registry
from recor.cli import main
from recor.maps.browser import Browser
from recor.registry import Delivery
from recor.registry.reference import read_reference
from tests.maps.conftest import load_registry, open_and_check
from tests.maps.unknowns import with_unknowns

pytestmark = pytest.mark.db

#: What an unknown value must never print as.
LEAKS = ("NaN", "None", "null", "undefined")


def click(browser: Browser, layer: str, index: int) -> str:
    """Open the popup of one feature and return its text."""
    browser.evaluate(
        f"(() => {{ const l = window.recorMap.layers[{layer!r}];"
        f" const f = l.features[{index}];"
        " const at = f.getLatLng ? f.getLatLng() : f.getBounds().getCenter();"
        " f.fire('click', {latlng: at}, true); })()"
    )
    return browser.evaluate("document.querySelector('.leaflet-popup-content').textContent")


def popup_rows(text_of_table: list[list[str]]) -> dict[str, str]:
    return {row[0]: row[1] for row in text_of_table}


def popup_table(browser: Browser) -> dict[str, str]:
    rows = browser.evaluate(
        "Array.from(document.querySelectorAll('.leaflet-popup-content tr'))"
        ".map(r => Array.from(r.children).map(c => c.textContent))"
    )
    return popup_rows(rows)


def first_index(browser: Browser, layer: str, condition: str) -> int:
    """Index of the first feature of a layer whose columns ``c`` meet a JS condition."""
    return browser.evaluate(
        f"(() => {{ const l = window.recorMap.layers[{layer!r}];"
        " for (let i = 0; i < l.geom.n; i++) {"
        "  const c = Object.fromEntries(Object.keys(l.columns).map(k => [k, l.columns[k][i]]));"
        f"  if ({condition}) return i; }} return -1; }})()"
    )


@pytest.mark.browser
@pytest.mark.slow
def test_every_map_kind_shows_unknown_counts_as_unknown(
    conn,
    registry_url: str,
    sample_delivery: Delivery,
    admin_cvl: Path,
    browser: Browser,
    artifacts: Path,
    tmp_path: Path,
    capsys,
) -> None:
    delivery = with_unknowns(sample_delivery)
    db = load_registry(conn, registry_url, delivery, admin_cvl)
    segments = registry.read_segments(conn)
    assert segments["fibre_count"].isna().sum() > 10 and segments["fibres_used"].isna().sum() > 10
    internal, public = tmp_path / "internal", tmp_path / "public"
    assert main([*db, "map", "all", "--out", str(internal)]) == 0
    assert main([*db, "map", "all", "--public", "--out", str(public)]) == 0
    route = internal / "route.html"
    ends = ["--from", "DC-ORLEANS", "--to", "DC-TOURS"]
    assert main([*db, "map", "route", *ends, "--out", str(route)]) == 0
    unknown_segment = segments.loc[segments["fibre_count"].isna(), "code"].iloc[0]
    whatif = internal / "whatif.html"
    assert main([*db, "map", "whatif", "--segment", unknown_segment, "--out", str(whatif)]) == 0
    capsys.readouterr()
    pages = [internal / f"{k}.html" for k in ("network", "coverage", "redundancy")]
    pages += [route, whatif, public / "network.html", public / "coverage.html"]
    for path in pages:
        report = open_and_check(browser, path, artifacts)
        assert report.counts, path
        shown = browser.evaluate("document.body.innerText")
        assert not any(word in shown.split() for word in LEAKS), (path, shown)

    browser.open_map(internal / "network.html")
    legend = browser.evaluate("document.querySelector('.recor-legend').textContent")
    assert "Capacité inconnue" in legend
    layer = "segments-in_service"
    no_count = first_index(browser, layer, "c.fibre_count === null")
    assert no_count >= 0
    click(browser, layer, no_count)
    rows = popup_table(browser)
    assert rows["Fibres"] == "inconnu"
    assert rows["Fibres utilisées"] == "inconnu"
    assert rows["Fibres libres"] == "inconnu"
    known_count = first_index(browser, layer, "c.fibre_count !== null && c.fibres_used === null")
    click(browser, layer, known_count)
    rows = popup_table(browser)
    assert rows["Fibres"].isdigit() and rows["Fibres libres"] == "inconnu"
    both = first_index(browser, layer, "c.fibre_count !== null && c.fibres_used !== null")
    click(browser, layer, both)
    rows = popup_table(browser)
    free = int(rows["Fibres"].replace("\u202f", "")) - int(rows["Fibres utilisées"])
    assert rows["Fibres libres"].replace("\u202f", "") == str(free)

    browser.open_map(whatif)
    click(browser, "cut-segments", 0)
    rows = popup_table(browser)
    assert rows["Code"] == unknown_segment and rows["Fibres"] == "inconnu"

    for path in (public / "network.html",):
        browser.open_map(path)
        popup_layer = "segments-in_service"
        index = first_index(browser, popup_layer, "c.fibre_count === null")
        click(browser, popup_layer, index)
        assert popup_table(browser)["Fibres"] == "inconnu"


def test_coverage_counts_no_fibre_km_for_unknown_counts_and_reports_their_length(
    conn, registry_url: str, sample_delivery: Delivery, admin_cvl: Path, tmp_path: Path, capsys
) -> None:
    db = load_registry(conn, registry_url, with_unknowns(sample_delivery), admin_cvl)
    assert main([*db, "coverage", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    text = (tmp_path / "coverage_summary.csv").read_text("utf-8")
    for word in ("nan", "NaN", "None", "null"):
        assert word not in text
    rows = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
    region = next(row for row in rows if row["code"] == "region")
    # recomputed from the registry: in-service segments inside the region, known counts only
    segments = registry.read_segments(conn)
    live = segments[segments["status"] == "in_service"]
    departements = read_reference(conn, "departements")
    inside = live.clip(departements.union_all())
    count = pd.to_numeric(inside["fibre_count"], errors="coerce").astype(float)
    km = inside.geometry.length.to_numpy() / 1000
    known = ~np.isnan(count.to_numpy())
    assert float(region["fibre_km_in_service"]) == pytest.approx(
        float((km * np.nan_to_num(count.to_numpy()))[known].sum()), rel=1e-4
    )
    assert float(region["km_in_service_unknown_fibres"]) == pytest.approx(
        float(km[~known].sum()), rel=1e-4
    )
    assert float(region["km_in_service_unknown_fibres"]) > 0


def without_datacentres(delivery: Delivery) -> Delivery:
    """The sample where every datacentre is delivered as an "other" site."""
    sites = delivery.sites.copy()
    sites.loc[sites["kind"] == "datacentre", "kind"] = "other"
    return Delivery(sites, delivery.segments, delivery.risk_groups, delivery.segment_risk_groups)


@pytest.mark.parametrize("level", ["srlg", "node"])
def test_one_resilience_definition_in_report_coverage_and_redundancy_map(
    conn,
    registry_url: str,
    sample_delivery: Delivery,
    admin_cvl: Path,
    tmp_path: Path,
    capsys,
    level: str,
) -> None:
    """``recor redundancy``, the coverage table and the redundancy map count the same
    single-homed sites, for the default core and for a core named with ``--core``; a
    registry without datacentres is refused until a core is named."""
    db = load_registry(conn, registry_url, without_datacentres(sample_delivery), admin_cvl)
    assert main([*db, "coverage", "--level", level, "--out", str(tmp_path)]) == 2
    assert "name a core set" in capsys.readouterr().err
    core = ["DC-ORLEANS", "DC-TOURS"]
    assert main([*db, "redundancy", "--core", *core, "--level", level, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = {row["code"] for row in printed["single_homed"]}
    graph = network.load_graph(conn)
    report = network.redundancy_report(graph, core=core, level=level)
    assert expected == set(report.single_homed["code"])
    assert expected

    args = ["--core", *core, "--level", level, "--out", str(tmp_path)]
    assert main([*db, "coverage", *args]) == 0
    assert main([*db, "map", "all", *args]) == 0
    capsys.readouterr()
    summary = pd.read_csv(tmp_path / "coverage_summary.csv", comment="#")
    assert summary.set_index("code").loc["region", "single_homed_sites"] == len(expected)
    spec = json.loads(
        (tmp_path / "redundancy.html")
        .read_text("utf-8")
        .split('<script type="application/json" id="recor-spec">')[1]
        .split("</script>")[0]
    )
    assert spec["subtitle"].startswith(f"{len(expected)} sites mono-raccordés")
    html = (tmp_path / "redundancy.html").read_text("utf-8")
    bodies = [
        chunk.split('">', 1)[1].split("</script>")[0]
        for chunk in html.split('<script type="application/json" id="compact_layer_')[1:]
    ]
    layer = next(json.loads(body) for body in bodies if '"id":"single-homed"' in body)
    assert layer["geom"]["n"] == len(expected)
