"""Network analysis: graph, routes, diverse pairs, optical budgets, redundancy, what-if.

Every function takes a graph (``nx.MultiGraph`` from :func:`build_graph` or
:func:`load_graph`) and returns plain dataclasses / GeoDataFrames carrying their provenance.
"""

from __future__ import annotations

from recor.network.disk import METRICS, worst_disk_failure
from recor.network.diverse import DISJOINTNESS, diverse_pair
from recor.network.export import graph_frames, pair_frame, routes_frame
from recor.network.graph import (
    DEFAULT_STATUSES,
    build_graph,
    graph_from_delivery,
    graph_version,
    resolve_site,
    resolve_sites,
)
from recor.network.load import (
    GraphCache,
    load_graph,
    registry_graph,
    require_sites,
    snapshot_graph,
)
from recor.network.model import (
    DiskFailure,
    OpticalBudget,
    Provenance,
    RedundancyReport,
    Route,
    RoutePair,
    SrlgCut,
    WhatIfResult,
    unknown_label,
)
from recor.network.optics import optical_budget
from recor.network.redundancy import (
    LEVELS,
    articulation_sites,
    bridges,
    core_sites,
    redundancy_report,
    srlg_cuts,
    two_edge_components,
)
from recor.network.routing import (
    CostModel,
    RouteConstraints,
    k_shortest_paths,
    shortest_path,
    unknown_free_segments,
)
from recor.network.whatif import circle, what_if

__all__ = [
    "DEFAULT_STATUSES",
    "DISJOINTNESS",
    "LEVELS",
    "METRICS",
    "CostModel",
    "DiskFailure",
    "GraphCache",
    "OpticalBudget",
    "Provenance",
    "RedundancyReport",
    "Route",
    "RouteConstraints",
    "RoutePair",
    "SrlgCut",
    "WhatIfResult",
    "articulation_sites",
    "bridges",
    "build_graph",
    "circle",
    "core_sites",
    "diverse_pair",
    "graph_frames",
    "graph_from_delivery",
    "graph_version",
    "k_shortest_paths",
    "load_graph",
    "optical_budget",
    "pair_frame",
    "redundancy_report",
    "registry_graph",
    "require_sites",
    "resolve_site",
    "resolve_sites",
    "routes_frame",
    "shortest_path",
    "snapshot_graph",
    "srlg_cuts",
    "two_edge_components",
    "unknown_free_segments",
    "unknown_label",
    "what_if",
    "worst_disk_failure",
]
