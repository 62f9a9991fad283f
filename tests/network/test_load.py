"""The graph read from the registry: once per registry state, rebuilt when it changes."""

from __future__ import annotations

import psycopg
import pytest

from recor import registry
from recor.network import GraphCache, graph_from_delivery, load_graph, shortest_path
from recor.registry import BatchInfo, Delivery

pytestmark = pytest.mark.db


def test_graph_from_the_registry_matches_the_delivery(
    sample_registry_url: str, sample_delivery: Delivery
) -> None:
    with registry.connect(sample_registry_url, autocommit=True) as conn:
        graph = load_graph(conn, cache=GraphCache())
        version = registry.registry_version(conn)
    direct = graph_from_delivery(sample_delivery)
    assert graph.graph["crs"] == 2154
    assert graph.graph["version"] == version
    assert set(graph.nodes) == set(direct.nodes)
    assert {k for *_, k in graph.edges(keys=True)} == {k for *_, k in direct.edges(keys=True)}
    risky = {k: d["risk_groups"] for *_, k, d in graph.edges(keys=True, data=True)}
    assert risky == {k: d["risk_groups"] for *_, k, d in direct.edges(keys=True, data=True)}
    route = shortest_path(graph, "POP-ORLEANS", "POP-BOURGES")
    assert route.provenance is not None and route.provenance.version == version


def test_all_statuses_hold_more_than_in_service(sample_registry_url: str) -> None:
    cache = GraphCache()
    with registry.connect(sample_registry_url, autocommit=True) as conn:
        in_service = load_graph(conn, cache=cache)
        everything = load_graph(conn, statuses=None, cache=cache)
    assert everything.size() > in_service.size()
    assert {s for *_, s in in_service.edges(data="status")} == {"in_service"}


def test_graph_is_built_once_per_registry_state(
    conn: psycopg.Connection, sample_delivery: Delivery
) -> None:
    cache = GraphCache()
    registry.load_delivery(conn, sample_delivery, BatchInfo(profile="sample"))
    before = registry.registry_version(conn).loaded_at
    first = load_graph(conn, cache=cache)
    assert load_graph(conn, cache=cache) is first
    assert cache.builds == 1
    segments = sample_delivery.segments.copy()
    segments.loc[segments.index[0], "fibres_used"] = segments["fibres_used"].iloc[0] + 1
    changed = Delivery(sample_delivery.sites, segments, None, None)
    registry.load_delivery(conn, changed, BatchInfo(profile="sample", note="one more fibre"))
    second = load_graph(conn, cache=cache)
    assert second is not first and cache.builds == 2
    code = segments["code"].iloc[0]
    used = [d["fibres_used"] for *_, k, d in second.edges(keys=True, data=True) if k == code]
    assert used == [int(segments["fibres_used"].iloc[0])]
    past = load_graph(conn, as_of=before, cache=cache)
    old = [d["fibres_used"] for *_, k, d in past.edges(keys=True, data=True) if k == code]
    assert old == [int(sample_delivery.segments["fibres_used"].iloc[0])]
    assert past.graph["as_of"] == before
