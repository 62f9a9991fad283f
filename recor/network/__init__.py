"""Network analysis: graph, routes, diverse pairs, optical budgets, redundancy, what-if."""

from __future__ import annotations

from recor.network.diverse import DISJOINTNESS, diverse_pair
from recor.network.graph import DEFAULT_STATUSES, build_graph, graph_version, resolve_site
from recor.network.model import (
    DiskFailure,
    OpticalBudget,
    Provenance,
    RedundancyReport,
    Route,
    RoutePair,
    SrlgCut,
    WhatIfResult,
)
from recor.network.routing import CostModel, RouteConstraints, k_shortest_paths, shortest_path

__all__ = [
    "DEFAULT_STATUSES",
    "DISJOINTNESS",
    "CostModel",
    "DiskFailure",
    "OpticalBudget",
    "Provenance",
    "RedundancyReport",
    "Route",
    "RouteConstraints",
    "RoutePair",
    "SrlgCut",
    "WhatIfResult",
    "build_graph",
    "diverse_pair",
    "graph_version",
    "k_shortest_paths",
    "resolve_site",
    "shortest_path",
]
