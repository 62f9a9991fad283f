"""Big layers are drawn in bulk: sites counted per grid cell at low zoom, one by one with
their usual popups when zoomed in, segments clickable as before (issue 11.5).

The bundled sample is made "big" by lowering the bulk thresholds, so the behaviour is
checked in seconds on small data; the 200,000-segment figures are scripts/bench_maps.py's.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest

from recor.config import MapSettings
from recor.maps import network_map
from recor.maps.browser import Browser
from recor.sample import Delivery

from .conftest import open_and_check

pytestmark = pytest.mark.browser

#: every layer of more than 20 features is drawn in bulk (98 chambers, 48 PoPs, 165 segments)
BULK = replace(MapSettings(), overview_max_points=20, overview_max_polygons=20)


@pytest.fixture(scope="module")
def maps(sample_delivery: Delivery, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sample's network map drawn in bulk, and as small layers (the reference)."""
    folder = tmp_path_factory.mktemp("bulk")
    sites, segments = sample_delivery.sites, sample_delivery.segments
    return {
        "bulk": network_map(sites, segments, version="test", settings=BULK).write(
            folder / "bulk.html"
        ),
        "small": network_map(sites, segments, version="test").write(folder / "small.html"),
    }


def _popup(browser: Browser) -> list[str]:
    """Title and rows of the popup opened last (the one before may still be fading out)."""
    return browser.evaluate(
        "(() => { const all = document.querySelectorAll('.leaflet-popup-content');"
        " const box = all[all.length - 1];"
        " return [box.querySelector('h4').textContent].concat(Array.from("
        "box.querySelectorAll('tr')).map(r => Array.from(r.children)"
        ".map(c => c.textContent).join(' : '))); })()"
    )


def _click_at(browser: Browser, lat: float, lng: float) -> None:
    """A real mouse click (DevTools input events) on the map at a place."""
    x, y = browser.evaluate(
        f"(() => {{ const m = window.recorMap.map, r = m.getContainer().getBoundingClientRect();"
        f" const p = m.latLngToContainerPoint([{lat}, {lng}]);"
        " return [p.x + r.left, p.y + r.top]; })()"
    )
    for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
        browser.call(
            "Input.dispatchMouseEvent",
            {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1},
        )


def test_sites_are_counted_per_cell_at_low_zoom(
    browser: Browser, maps: dict[str, Path], sample_delivery: Delivery, artifacts: Path
) -> None:
    open_and_check(browser, maps["bulk"], artifacts)
    layer = "sites-chamber"
    assert browser.evaluate(f"window.recorMap.layers[{layer!r}].bulk") is True
    browser.evaluate("window.recorMap.map.setView([47.6, 1.7], 8, {animate: false}) && 0")
    clusters = browser.evaluate(f"window.recorMap.layers[{layer!r}].bulkLayer.clusters")
    assert any(c["count"] > 1 for c in clusters), "no site was aggregated at zoom 8"
    chambers = sample_delivery.sites[sample_delivery.sites["kind"] == "chamber"].to_crs(4326)
    lat, lng = chambers.geometry.y.to_numpy(), chambers.geometry.x.to_numpy()
    # each count is the number of chambers inside its cell, and every chamber is in one
    for cluster in clusters:
        (south, west), (north, east) = cluster["bounds"]
        inside = (lat >= south) & (lat < north) & (lng >= west) & (lng < east)
        assert int(inside.sum()) == cluster["count"], cluster
    assert sum(c["count"] for c in clusters) == len(chambers)
    browser.screenshot(artifacts / "bulk_clusters.png")
    # a click on a cluster zooms in on it
    big = max(clusters, key=lambda c: c["count"])
    _click_at(browser, big["lat"], big["lng"])
    assert browser.evaluate("window.recorMap.map.getZoom()") > 8


def test_zoomed_in_sites_and_segments_open_the_same_popups_as_small_layers(
    browser: Browser, maps: dict[str, Path], sample_delivery: Delivery, artifacts: Path
) -> None:
    sites = sample_delivery.sites
    chambers = sites[sites["kind"] == "chamber"].to_crs(4326)
    index = 7
    point = chambers.geometry.iloc[index]
    live = sample_delivery.segments[sample_delivery.segments["status"] == "in_service"]
    # the middle of a segment far from every site (a click there can only mean the segment)
    middles = live.geometry.interpolate(0.5, normalized=True)
    clear = middles.distance(sites.geometry.union_all()).to_numpy() > 300
    line = int(np.flatnonzero(clear)[0])
    middle = gpd.GeoSeries([middles.iloc[line]], crs=live.crs).to_crs(4326).iloc[0]
    where = [middle.y, middle.x]
    popups = {}
    for name in ("small", "bulk"):
        open_and_check(browser, maps[name], artifacts)
        browser.evaluate(
            f"window.recorMap.map.setView([{point.y}, {point.x}], 17, {{animate: false}}) && 0"
        )
        _click_at(browser, point.y, point.x)
        chamber = _popup(browser)
        if name == "bulk":
            assert browser.evaluate("window.recorMap.onMap()")["sites-chamber"] >= 1
            clusters = browser.evaluate(
                "window.recorMap.layers['sites-chamber'].bulkLayer.clusters"
            )
            assert clusters == [], "sites are still aggregated at zoom 17"
        browser.evaluate(f"window.recorMap.map.setView({where}, 17, {{animate: false}}) && 0")
        _click_at(browser, *where)
        popups[name] = (chamber, _popup(browser))
        if name == "bulk":
            assert browser.evaluate("window.recorMap.onMap()")["segments-in_service"] >= 1
            browser.screenshot(artifacts / "bulk_popup.png")
    assert popups["bulk"] == popups["small"]
    assert popups["bulk"][0][0] == chambers["name"].iloc[index]
    assert popups["bulk"][1][0] == live["code"].iloc[line]
    # the search finds a site of a bulk layer and opens its popup too
    browser.evaluate("window.recorMap.map.setView([47.6, 1.7], 8, {animate: false}) && 0")
    found = browser.evaluate(
        f"window.recorMap.search({chambers['code'].iloc[index]!r})"
        ".filter(r => r.layer === 'sites-chamber').length"
    )
    assert found >= 1
    assert np.isfinite(browser.evaluate("window.recorMap.map.getZoom()"))


def test_a_site_symbol_on_the_canvas_opens_its_popup_when_clicked(
    browser: Browser, maps: dict[str, Path], sample_delivery: Delivery, artifacts: Path
) -> None:
    sites = sample_delivery.sites
    public = sites[(sites["kind"] == "public_site") & sites["name"].notna()].to_crs(4326)
    point = public.geometry.iloc[0]
    open_and_check(browser, maps["small"], artifacts)
    browser.evaluate(
        f"window.recorMap.map.setView([{point.y}, {point.x}], 16, {{animate: false}}) && 0"
    )
    _click_at(browser, point.y, point.x)
    assert _popup(browser)[0] == public["name"].iloc[0]
