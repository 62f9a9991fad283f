"""The network map: offline, complete, searchable, and safe against hostile attribute values."""

from __future__ import annotations

import base64
import hashlib
import re
import time
from html import unescape
from pathlib import Path
from urllib.parse import urlparse

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from recor import registry
from recor.config import MapSettings
from recor.maps import network_map, publishable
from recor.maps.browser import Browser
from recor.registry import BatchInfo, Delivery
from tests.maps.conftest import open_and_check

IMG_PAYLOAD = '<img src=x onerror="window.__xss=1">'
SCRIPT_PAYLOAD = "<script>window.__xss=2</script>"


def expected_counts(sites: gpd.GeoDataFrame, segments: gpd.GeoDataFrame) -> dict[str, int]:
    counts = {f"segments-{k}": int(v) for k, v in segments["status"].value_counts().items()}
    counts |= {f"sites-{k}": int(v) for k, v in sites["kind"].value_counts().items()}
    return counts


def test_sample_network_map_is_small_and_links_nothing(
    sample_delivery: Delivery, tmp_path: Path
) -> None:
    html = network_map(sample_delivery.sites, sample_delivery.segments, version="test").to_html()
    assert len(html.encode()) < 1_000_000
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", html)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", html)
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert policy and "default-src 'none'" in unescape(policy.group(1))


#: Hosts named inside the vendored Leaflet (SVG namespace, comments, attribution link): text,
#: never fetched (the browser tests assert that no request leaves the page).
LEAFLET_TEXT_HOSTS = {"www.w3.org", "leafletjs.com", "bugzilla.mozilla.org", "bugs.chromium.org"}


def test_page_is_rendered_by_folium_without_its_cdn_links(sample_delivery: Delivery) -> None:
    html = network_map(sample_delivery.sites, sample_delivery.segments, version="t").to_html()
    name = re.search(r"var (map_[0-9a-f]{32}) = L\.map\(", html)
    assert name, "no folium map variable"
    assert f'<div class="folium-map" id="{name.group(1)}"' in html
    assert f"recor.addLayer({name.group(1)}, " in html
    cdn_hosts = {
        urlparse(url).netloc for _, url in (*folium.Map.default_js, *folium.Map.default_css)
    }
    assert cdn_hosts, "folium links no CDN any more: this test checks nothing"
    page_hosts = {urlparse(url).netloc for url in re.findall(r"https?://[^\s\"'<>)\\]+", html)}
    assert not page_hosts & cdn_hosts
    assert page_hosts <= LEAFLET_TEXT_HOSTS, page_hosts - LEAFLET_TEXT_HOSTS
    policy = unescape(re.search(r'Content-Security-Policy" content="([^"]+)"', html).group(1))
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    assert len(scripts) >= 3  # Leaflet, the recor runtime, folium's map script
    for body in scripts:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy


@pytest.mark.browser
def test_network_map_draws_every_feature_offline(
    sample_delivery: Delivery, browser: Browser, artifacts: Path, tmp_path: Path
) -> None:
    sites, segments = sample_delivery.sites, sample_delivery.segments
    path = network_map(sites, segments, version="batch 1 (test)").write(tmp_path / "network.html")
    report = open_and_check(browser, path, artifacts)
    assert report.counts == expected_counts(sites, segments)
    on_map = browser.evaluate("window.recorMap.onMap()")
    hidden = {"segments-abandoned"}  # off by default, listed in the layer control
    for layer, count in report.counts.items():
        assert on_map[layer] == (0 if layer in hidden else count), layer
    legend = browser.evaluate("document.querySelector('.recor-legend').textContent")
    assert "En service" in legend and "Centre de données" in legend
    assert browser.evaluate("document.querySelector('.leaflet-control-scale') !== null")
    assert browser.evaluate("document.querySelectorAll('.leaflet-control-scale-line').length") == 1
    page_text = browser.evaluate("document.body.textContent")
    assert "Version des données" in page_text and "batch 1 (test)" in page_text


@pytest.mark.browser
def test_search_by_site_name_opens_its_popup(
    sample_delivery: Delivery, browser: Browser, tmp_path: Path
) -> None:
    sites = sample_delivery.sites
    path = network_map(sites, sample_delivery.segments, version="t").write(tmp_path / "n.html")
    assert browser.open_map(path).ready
    target = sites[sites["kind"] == "datacentre"].iloc[0]
    query = target["name"][:6].lower()
    browser.evaluate(
        "(() => { const i = document.querySelector('.recor-search input');"
        f" i.value = {query!r}; i.dispatchEvent(new Event('input')); }})()"
    )
    names = browser.evaluate(
        "Array.from(document.querySelectorAll('.recor-result-name')).map(b => b.textContent)"
    )
    assert target["name"] in names
    browser.evaluate(
        "Array.from(document.querySelectorAll('.recor-result-name'))"
        f".find(b => b.textContent === {target['name']!r}).parentNode.click()"
    )
    popup = browser.evaluate("document.querySelector('.leaflet-popup-content').textContent")
    assert target["name"] in popup and target["code"] in popup


def hostile(delivery: Delivery) -> Delivery:
    """The sample with attack strings stored as attribute values of a site and a segment."""
    sites = delivery.sites.copy()
    segments = delivery.segments.copy()
    dc = sites.index[sites["kind"] == "datacentre"][0]
    sites.loc[dc, "name"] = IMG_PAYLOAD
    sites.at[dc, "extra"] = {"note": SCRIPT_PAYLOAD}
    seg = segments.index[segments["status"] == "in_service"][0]
    segments.loc[seg, "cable_type"] = SCRIPT_PAYLOAD
    segments.loc[seg, "operator"] = IMG_PAYLOAD
    return Delivery(sites, segments, delivery.risk_groups, delivery.segment_risk_groups)


@pytest.mark.db
@pytest.mark.browser
def test_hostile_attribute_values_show_as_text_and_run_nothing(
    conn, sample_delivery: Delivery, browser: Browser, artifacts: Path, tmp_path: Path
) -> None:
    registry.load_delivery(conn, hostile(sample_delivery), BatchInfo(profile="test"))
    sites, segments = registry.read_sites(conn), registry.read_segments(conn)
    assert (sites["name"] == IMG_PAYLOAD).sum() == 1
    version = registry.registry_version(conn).label()
    path = network_map(sites, segments, version=version).write(tmp_path / "hostile.html")
    report = open_and_check(browser, path, artifacts)
    dc_index = int(np.flatnonzero(sites[sites["kind"] == "datacentre"]["name"] == IMG_PAYLOAD)[0])
    live = segments[segments["status"] == "in_service"]
    seg_index = int(np.flatnonzero(live["cable_type"] == SCRIPT_PAYLOAD)[0])
    texts = []
    for layer, index in (("sites-datacentre", dc_index), ("segments-in_service", seg_index)):
        browser.evaluate(
            f"(() => {{ const l = window.recorMap.layers[{layer!r}];"
            f" const f = l.features[{index}];"
            " const at = f.getLatLng ? f.getLatLng() : f.getBounds().getCenter();"
            " f.fire('click', {latlng: at}, true); })()"
        )
        texts.append(
            browser.evaluate("document.querySelector('.leaflet-popup-content').textContent")
        )
    assert IMG_PAYLOAD in texts[0] and SCRIPT_PAYLOAD in texts[0]
    assert SCRIPT_PAYLOAD in texts[1] and IMG_PAYLOAD in texts[1]
    assert browser.evaluate("typeof window.__xss") == "undefined"
    assert browser.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    time.sleep(0.4)  # let the popup fade in for the screenshot
    browser.screenshot(artifacts / "hostile_popup.png")
    after = browser.collect(report)
    assert after.console_errors == [] and after.exceptions == []
    assert set(after.requests) <= {report.url}, after.requests


def test_public_level_coarsens_chaton_nodes_and_drops_internal_detail(
    sample_delivery: Delivery,
) -> None:
    settings = MapSettings()
    cell = settings.public_coarsen_m
    sites, segments = publishable(sample_delivery.sites, sample_delivery.segments, coarsen_m=cell)
    assert not sites["kind"].isin(["chamber", "junction"]).any()
    assert set(sites.columns) == {"name", "kind", "operator", "status", "geometry"}
    assert "code" not in segments.columns and "fibres_used" not in segments.columns
    original = sample_delivery.sites[sample_delivery.sites["kind"] == "chaton"]
    moved = sites[sites["kind"] == "chaton"]
    xy = shapely.get_coordinates(moved.geometry.values)
    assert np.allclose((xy / cell) % 1, 0.5)
    assert (moved["name"] == "Nœud CHATON").all()
    for point in original.geometry:
        cell_box = shapely.box(
            *(np.floor(np.array([point.x, point.y]) / cell) * cell),
            *((np.floor(np.array([point.x, point.y]) / cell) + 1) * cell),
        )
        inside = shapely.intersection(segments.geometry.values, cell_box)
        assert shapely.length(inside).max() < 1e-6
    html = network_map(
        sample_delivery.sites, sample_delivery.segments, version="t", level="public"
    ).to_html()
    for secret in original["code"].tolist():
        assert secret not in html
    assert "fibres_used" not in html and "risk_groups" not in html


@pytest.mark.browser
def test_public_map_opens_clean(
    sample_delivery: Delivery, browser: Browser, artifacts: Path, tmp_path: Path
) -> None:
    doc = network_map(sample_delivery.sites, sample_delivery.segments, version="t", level="public")
    report = open_and_check(browser, doc.write(tmp_path / "network_public.html"), artifacts)
    sites, segments = publishable(
        sample_delivery.sites, sample_delivery.segments, coarsen_m=MapSettings().public_coarsen_m
    )
    assert report.counts == expected_counts(sites, segments)


def test_online_tiles_are_opt_in(sample_delivery: Delivery) -> None:
    offline = network_map(sample_delivery.sites, sample_delivery.segments, version="t")
    online = network_map(sample_delivery.sites, sample_delivery.segments, version="t", tiles="osm")
    assert "tile.openstreetmap.org" not in offline.to_html()
    assert "img-src data: https://tile.openstreetmap.org" in unescape(online.to_html())


def test_frames_are_not_modified(sample_delivery: Delivery) -> None:
    sites, segments = sample_delivery.sites.copy(), sample_delivery.segments.copy()
    network_map(sample_delivery.sites, sample_delivery.segments, version="t", level="public")
    pd.testing.assert_frame_equal(pd.DataFrame(sites), pd.DataFrame(sample_delivery.sites))
    pd.testing.assert_frame_equal(pd.DataFrame(segments), pd.DataFrame(sample_delivery.segments))
