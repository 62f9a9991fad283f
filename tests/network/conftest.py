"""Fixtures of the network tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import networkx as nx
import pandas as pd
import pytest

from recor.network import graph_from_delivery, shortest_path
from recor.registry import Delivery
from tests.conftest import loaded_registry
from tests.network.topology import make_graph

#: The route the sample takes from Orléans to Bourges: its first segments lose their counts.
UNKNOWN_ROUTE = ("POP-ORLEANS", "POP-BOURGES")


@pytest.fixture
def drawn() -> Callable[..., nx.MultiGraph]:
    """Factory: ``drawn(sites, segments)`` builds a hand-drawn network graph."""
    return make_graph


@pytest.fixture(scope="session")
def unknown_counts_delivery(sample_delivery: Delivery) -> Delivery:
    """The sample with unknown fibre counts and usage, as real deliveries have them.

    On the shortest Orléans-Bourges route: the third segment has neither count nor usage,
    the first two have a count but no usage. Every 7th other segment has no usage, every
    11th no count either. Site operators are unknown (empty) on every 5th site.
    """
    route = shortest_path(graph_from_delivery(sample_delivery), *UNKNOWN_ROUTE).segments
    segments = sample_delivery.segments.copy()
    for column in ("fibre_count", "fibres_used"):
        segments[column] = segments[column].astype("Int64")
    position = pd.Series(range(len(segments)), index=segments.index)
    no_usage = segments["code"].isin(route[:3]) | (position % 7 == 3)
    no_count = segments["code"].isin(route[2:3]) | (position % 11 == 5)
    segments.loc[no_usage | no_count, "fibres_used"] = pd.NA
    segments.loc[no_count, "fibre_count"] = pd.NA
    sites = sample_delivery.sites.copy()
    sites.loc[sites.index[::5], "operator"] = ""
    return Delivery(
        sites, segments, sample_delivery.risk_groups, sample_delivery.segment_risk_groups
    )


@pytest.fixture(scope="session")
def unknown_registry_url(postgis_url: str, unknown_counts_delivery: Delivery) -> Iterator[str]:
    """A registry holding the sample with unknown counts. Read only: never write to it."""
    yield from loaded_registry(postgis_url, unknown_counts_delivery, "unknown_counts")
