"""Map captions and layer names, as a French-speaking planner reads them."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pytest

from recor.maps import network_map, route_map, whatif_map
from recor.maps.browser import Browser
from recor.network import circle, diverse_pair, graph_frames, graph_from_delivery, what_if
from recor.registry import Delivery
from tests.maps.conftest import open_and_check
from tests.network.topology import make_graph


def test_network_caption_keeps_its_comma_and_groups_digits_the_french_way(
    sample_delivery: Delivery,
) -> None:
    sites, segments = sample_delivery.sites, sample_delivery.segments
    doc = network_map(sites, segments, version="test")
    assert doc.subtitle == f"{len(segments)} tronçons, {len(sites)} sites"


def test_status_layer_names_agree_with_the_plural_noun(sample_delivery: Delivery) -> None:
    doc = network_map(sample_delivery.sites, sample_delivery.segments, version="test")
    names = {layer.name for layer in doc.layers}
    assert "Tronçons : abandonnés" in names
    assert "Tronçons : abandonné" not in names
    assert "Tronçons : en service" in names


def test_route_caption_names_the_shared_sites_and_risk_groups_in_french(
    sample_delivery: Delivery,
) -> None:
    """Both links of the Orléans datacentre cross the Loire bridge: no segment is shared, but
    the pair is not disjoint, and the caption must say why."""
    graph = graph_from_delivery(sample_delivery)
    pair = diverse_pair(graph, "DC-ORLEANS", "DC-TOURS", disjointness="srlg")
    assert not pair.achieved and not pair.shared_segments
    sites, segments = graph_frames(graph)
    doc = route_map(pair, sites, segments)
    assert doc.subtitle.startswith(
        "Disjonction demandée : par tronçons, sites et groupes de risque partagés ; "
        "obtenue : non ; tronçons partagés : aucun ; sites partagés : "
    )
    assert "POP-ORLEANS" in doc.subtitle
    assert "groupes de risque partagés : BRIDGE-ORLEANS-LOIRE" in doc.subtitle


def test_whatif_caption_groups_fibre_km_digits_the_french_way() -> None:
    """DC --s1 (30 km, 48 fibres)-- B: cutting s1 loses 1 440 fibre-km (narrow no-break
    space between the digit groups)."""
    graph = make_graph({"DC": (0, 0, "datacentre"), "B": (30, 0)}, [("s1", "DC", "B", 30_000)])
    result = what_if(graph, segments=["s1"])
    sites, segments = graph_frames(graph)
    doc = whatif_map(result, sites, segments)
    assert doc.subtitle.endswith("1\u202f440 fibre·km perdus")
    assert not re.search(r"\d\.\d fibre·km", doc.subtitle)


@pytest.mark.browser
def test_whatif_map_draws_the_disaster_area_and_legends_what_it_destroys(
    sample_delivery: Delivery, browser: Browser, artifacts: Path, tmp_path: Path
) -> None:
    graph = graph_from_delivery(sample_delivery)
    sites, segments = graph_frames(graph)
    tours = sites.set_index("code").geometry["DC-TOURS"]
    area = circle(tours.x, tours.y, 5000.0)
    result = what_if(graph, area=area)
    assert result.cut_sites
    doc = whatif_map(result, sites, segments)
    assert doc.title.startswith("Simulation de panne : zone sinistrée d'environ 5,0 km de rayon")
    report = open_and_check(browser, doc.write(tmp_path / "whatif_disk.html"), artifacts)
    assert report.counts["scenario-area"] == 1
    assert report.counts["cut-sites"] == len(result.cut_sites)
    bounds = browser.evaluate(
        "(() => { const b = window.recorMap.layers['scenario-area'].features[0].getBounds();"
        " return [b.getSouth(), b.getWest(), b.getNorth(), b.getEast()]; })()"
    )
    centre = gpd.GeoSeries([tours], crs=2154).to_crs(4326).iloc[0]
    assert bounds[0] < centre.y < bounds[2] and bounds[1] < centre.x < bounds[3]
    # about 10 km across, north to south
    assert (bounds[2] - bounds[0]) * 111.2 == pytest.approx(10.0, rel=0.05)
    legend = browser.evaluate("document.querySelector('.recor-legend').textContent")
    assert "Zone sinistrée" in legend
    assert f"Site détruit ({len(result.cut_sites)})" in legend
    browser.evaluate("document.querySelectorAll('details').forEach(d => d.open = true) || 0")
    page = browser.evaluate("document.body.innerText")
    assert "POLYGON" not in page and "risk_groups" not in page
    assert "Scénario" in page and "zone sinistrée" in page


def test_whatif_title_names_the_shared_risk_not_its_code(sample_delivery: Delivery) -> None:
    graph = graph_from_delivery(sample_delivery)
    sites, segments = graph_frames(graph)
    failure = what_if(graph, risk_groups=["BRIDGE-ORLEANS-LOIRE"])
    named = whatif_map(failure, sites, segments, risk_groups=sample_delivery.risk_groups)
    assert named.title == (
        "Simulation de panne : risque partagé : Pont de l'Europe sur la Loire, Orléans"
    )
    # without the registry's names, the code is all there is to say
    assert whatif_map(failure, sites, segments).title.endswith(": BRIDGE-ORLEANS-LOIRE")
    # the worst news first: the Orléans datacentre has no path left to the rest of the core
    assert named.subtitle.startswith("1 site(s) du cœur sans chemin vers le reste du cœur, ")
    core = next(layer for layer in named.layers if layer.id == "core-isolated")
    assert core.geom["n"] == 1 and "cœur isolé du reste du cœur (1)" in str(named.legend)
    untouched = whatif_map(what_if(graph, segments=[segments["code"].iloc[0]]), sites, segments)
    assert "du cœur sans chemin" not in untouched.subtitle
