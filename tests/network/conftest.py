"""Fixtures of the network tests."""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx
import pytest

from tests.network.topology import make_graph


@pytest.fixture
def drawn() -> Callable[..., nx.MultiGraph]:
    """Factory: ``drawn(sites, segments)`` builds a hand-drawn network graph."""
    return make_graph
