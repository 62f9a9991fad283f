"""Planner maps: self-contained, offline HTML pages of the network and its analyses.

Builders are pure: frames and results in, a :class:`MapDocument` out (``.write(path)``);
:mod:`recor.maps.build` reads the registry and calls them.
"""

from __future__ import annotations

from recor.maps.analysis_maps import redundancy_map, route_map, whatif_map
from recor.maps.coverage_map import coverage_map
from recor.maps.document import ONLINE_TILES, LayerSpec, MapDocument, make_layer
from recor.maps.network_map import network_map
from recor.maps.privacy import LEVELS, PUBLIC_FIELDS, publishable

__all__ = [
    "LEVELS",
    "ONLINE_TILES",
    "PUBLIC_FIELDS",
    "LayerSpec",
    "MapDocument",
    "coverage_map",
    "make_layer",
    "network_map",
    "publishable",
    "redundancy_map",
    "route_map",
    "whatif_map",
]
