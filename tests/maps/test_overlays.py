"""Cantons and arrondissements: imported reference layers drawn as overlays, off by default."""

from __future__ import annotations

from pathlib import Path

import pytest

from recor.maps.boundaries import read_boundaries
from recor.maps.browser import Browser
from recor.maps.network_map import network_map
from recor.maps.styles import MAP_BACKGROUND, contrast_ratio
from recor.registry import Delivery
from tests.maps.conftest import open_and_check


@pytest.fixture(scope="module")
def overlays(admin_cvl: Path) -> dict:
    return {
        kind: read_boundaries(admin_cvl / f"{kind}.geojson", kind)
        for kind in ("departements", "arrondissements", "cantons")
    }


def test_cantons_and_arrondissements_are_overlays_off_by_default(
    overlays: dict, sample_delivery: Delivery
) -> None:
    doc = network_map(
        sample_delivery.sites, sample_delivery.segments, version="essai", boundaries=overlays
    )
    layers = {layer.id: layer for layer in doc.layers}
    for kind, name, count in (
        ("cantons", "Fond : Cantons", 102),
        ("arrondissements", "Fond : Arrondissements", 20),
    ):
        layer = layers[f"reference-{kind}"]
        assert layer.name == name and layer.geom["n"] == count
        assert layer.show is False and layer.interactive is False
        style = layer.classes[0]
        # print-friendly: a grey readable on the background, told apart by its dashes
        assert contrast_ratio(style["color"], MAP_BACKGROUND) >= 3 and style["dashArray"]
    assert layers["reference-departements"].show is True
    dashes = {
        layers[f"reference-{k}"].classes[0]["dashArray"] for k in ("cantons", "arrondissements")
    }
    assert len(dashes) == 2


@pytest.mark.browser
def test_overlays_are_listed_unchecked_and_draw_when_checked(
    overlays: dict, sample_delivery: Delivery, browser: Browser, artifacts: Path, tmp_path: Path
) -> None:
    doc = network_map(
        sample_delivery.sites, sample_delivery.segments, version="essai", boundaries=overlays
    )
    report = open_and_check(browser, doc.write(tmp_path / "overlays.html"), artifacts)
    assert report.counts["reference-cantons"] == 102
    assert browser.evaluate("window.recorMap.onMap()['reference-cantons']") == 0
    browser.evaluate(
        "Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))"
        ".find(l => l.textContent.includes('Fond : Cantons (102)'))"
        ".querySelector('input').click()"
    )
    # a bulk layer draws at the next frame
    browser.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    assert browser.evaluate("window.recorMap.onMap()['reference-cantons']") == 102
    assert browser.evaluate("window.recorMap.onMap()['reference-arrondissements']") == 0
