"""Readable for all: every line and symbol at least 3:1 against the map background
(WCAG 2.1 non-text contrast, computed from what the page draws), statuses also told by their
dash pattern, distance bands in order of lightness, public sites drawn above the PoPs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from recor.coverage import coverage, grid_cells
from recor.maps import network_map, route_map, whatif_map
from recor.maps.analysis_maps import redundancy_map
from recor.maps.browser import Browser
from recor.maps.coverage_map import coverage_map
from recor.maps.styles import (
    BAND_COLOURS,
    MAP_BACKGROUND,
    PATH_COUNT_STYLES,
    STATUS_COLOURS,
    STATUS_DASHES,
    contrast_ratio,
)
from recor.network import (
    diverse_pair,
    graph_frames,
    graph_from_delivery,
    redundancy_report,
    what_if,
)
from recor.registry import Delivery
from tests.maps.conftest import open_and_check


def test_contrast_ratio_matches_the_wcag_examples() -> None:
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1.0)


def test_statuses_differ_by_dash_pattern_and_only_in_service_is_solid() -> None:
    dashes = [STATUS_DASHES[s] for s in STATUS_COLOURS]
    assert len(set(dashes)) == len(dashes)
    assert [s for s, d in STATUS_DASHES.items() if d is None] == ["in_service"]


def _linear(colour: str) -> list[float]:
    channels = [int(colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    return [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]


#: Colour-vision deficiency simulation (Viénot, Brettel and Mollon 1999), on linear RGB.
CVD = {
    "deuteranopia": ((0.29275, 0.70725, 0.0), (0.29275, 0.70725, 0.0), (-0.02234, 0.02234, 1.0)),
    "protanopia": ((0.11238, 0.88762, 0.0), (0.11238, 0.88762, 0.0), (0.00401, -0.00401, 1.0)),
}


def _simulated_luminance(colour: str, matrix) -> float:
    r, g, b = _linear(colour)
    rgb = [max(0.0, min(1.0, m[0] * r + m[1] * g + m[2] * b)) for m in matrix]
    return 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]


@pytest.mark.parametrize("vision", [None, *CVD])
def test_distance_bands_and_path_counts_read_in_order_whatever_the_colour_vision(vision) -> None:
    def luminance(colour: str) -> float:
        if vision is None:
            r, g, b = _linear(colour)
            return 0.2126 * r + 0.7152 * g + 0.0722 * b
        return _simulated_luminance(colour, CVD[vision])

    bands = [luminance(c) for c in BAND_COLOURS]
    assert bands == sorted(bands)
    assert (bands[-1] + 0.05) / (bands[0] + 0.05) >= 3
    # 0, 1, ≥ 2 paths: the two extremes at least 1.5:1 apart, "one path" between them
    paths = [luminance(PATH_COUNT_STYLES[k][0]) for k in (0, 1, 2)]
    assert max(paths[0], paths[2]) / min(paths[0], paths[2]) >= 1.5 or vision is None


def _rgb(text: str) -> str:
    r, g, b = (int(v) for v in re.findall(r"\d+", text)[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def maps(delivery: Delivery, folder: Path) -> list[Path]:
    """Every map kind of the sample, built in memory."""
    graph = graph_from_delivery(delivery)
    sites, segments = graph_frames(graph)
    units = grid_cells(segments, 10_000.0)
    result = coverage(units, sites, segments, unit_kind="grid", version="test")
    report = redundancy_report(graph)
    pair = diverse_pair(graph, "DC-ORLEANS", "DC-TOURS", disjointness="srlg")
    failure = what_if(graph, risk_groups=["BRIDGE-ORLEANS-LOIRE"])
    docs = {
        "network": network_map(delivery.sites, delivery.segments, version="t"),
        "coverage": coverage_map(result, segments, sites=sites),
        "redundancy": redundancy_map(report, sites, segments, units, unit_kind="grid"),
        "route": route_map(pair, sites, segments),
        "whatif": whatif_map(failure, sites, segments),
    }
    return [doc.write(folder / f"palette_{name}.html") for name, doc in docs.items()]


@pytest.mark.browser
def test_every_line_and_symbol_drawn_is_at_least_3_to_1_against_the_background(
    sample_delivery: Delivery, browser: Browser, artifacts: Path, tmp_path: Path
) -> None:
    for path in maps(sample_delivery, tmp_path):
        open_and_check(browser, path, artifacts)
        background = _rgb(
            browser.evaluate(
                "getComputedStyle(document.querySelector('.folium-map')).backgroundColor"
            )
        )
        assert background == MAP_BACKGROUND
        drawn = browser.evaluate(
            "Object.values(window.recorMap.layers).filter(l => l.kind !== 'label')"
            ".flatMap(l => l.classes.filter(c => c.stroke !== false && c.color)"
            ".map(c => [l.id, c.color]))"
        )
        swatches = browser.evaluate(
            "Array.from(document.querySelectorAll('.recor-legend line'))"
            ".map(l => ['légende', l.getAttribute('stroke')])"
        )
        assert drawn
        for layer, colour in drawn + swatches:
            ratio = contrast_ratio(colour, MAP_BACKGROUND)
            assert ratio >= 3, f"{path.name} {layer}: {colour} is {ratio:.2f}:1"


@pytest.mark.browser
def test_legend_draws_each_status_with_its_dash_and_public_sites_above_pops(
    sample_delivery: Delivery, browser: Browser, tmp_path: Path
) -> None:
    path = network_map(sample_delivery.sites, sample_delivery.segments, version="t").write(
        tmp_path / "network.html"
    )
    assert browser.open_map(path).ready
    legend = browser.evaluate(
        "Array.from(document.querySelectorAll('.recor-legend .recor-legend-row'))"
        ".filter(r => r.querySelector('line'))"
        ".map(r => [r.textContent, r.querySelector('line').getAttribute('stroke-dasharray')])"
    )
    by_label = dict(legend)
    assert by_label["En service"] is None
    dashes = [by_label[label] for label in ("En projet", "En construction", "Hors service")]
    assert None not in dashes and len(set(dashes)) == 3
    # public sites are drawn after (above) every PoP symbol, 14 px wide or more
    order = browser.evaluate(
        "(() => { const r = window.recorMap.map.recor.renderer, of = new Map(), out = [];"
        " ['sites-public_site', 'sites-pop'].forEach(id => window.recorMap.layers[id].features"
        ".forEach(f => of.set(f, id)));"
        " for (let o = r._drawFirst; o; o = o.next) if (of.has(o.layer)) out.push(of.get(o.layer));"
        " return out; })()"
    )
    assert set(order) == {"sites-public_site", "sites-pop"}
    assert order.index("sites-public_site") > len(order) - 1 - order[::-1].index("sites-pop")
    size = browser.evaluate("window.recorMap.layers['sites-public_site'].features[0]._radius * 2")
    assert size >= 14
