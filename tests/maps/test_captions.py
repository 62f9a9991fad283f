"""Map captions and layer names, as a French-speaking planner reads them."""

from __future__ import annotations

import re

from recor.maps import network_map, route_map, whatif_map
from recor.network import diverse_pair, graph_frames, graph_from_delivery, what_if
from recor.registry import Delivery
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
    """DC --s1 (30 km, 48 fibres)-- B: cutting s1 loses 1 440 fibre-km."""
    graph = make_graph({"DC": (0, 0, "datacentre"), "B": (30, 0)}, [("s1", "DC", "B", 30_000)])
    result = what_if(graph, segments=["s1"])
    sites, segments = graph_frames(graph)
    doc = whatif_map(result, sites, segments)
    assert doc.subtitle.endswith("1 440 fibre·km perdus")
    assert not re.search(r"\d\.\d fibre·km", doc.subtitle)
