"""Builders of small deliveries for the import tests (frames in the project's survey format)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import shapely

#: Two sites 1 km apart in Orléans (Lambert-93) and one segment between them.
A_XY = (619_000.0, 6_755_000.0)
B_XY = (620_000.0, 6_755_000.0)
C_XY = (620_000.0, 6_756_000.0)


def site_frame(**overrides: list) -> gpd.GeoDataFrame:
    """Three sites A, B, C in the project's survey format."""
    data = {
        "code": ["S-A", "S-B", "S-C"],
        "name": ["Orléans Nord", "Saint-Jean-de-Braye", "Fleury"],
        "kind": ["pop", "chamber", "public_site"],
        "operator": ["GIP RECIA"] * 3,
        "status": ["in_service"] * 3,
        "source": ["test"] * 3,
    }
    data.update(overrides)
    return gpd.GeoDataFrame(data, geometry=shapely.points([A_XY, B_XY, C_XY]), crs=2154)


def segment_frame(**overrides: list) -> gpd.GeoDataFrame:
    """Two segments A → B → C."""
    data = {
        "code": ["T-1", "T-2"],
        "site_a": ["S-A", "S-B"],
        "site_b": ["S-B", "S-C"],
        "fibres": [48, 24],
        "fibres_use": [12, 0],
        "cable_type": ["G.652D 48 FO", "G.652D 24 FO"],
        "install": ["duct", "aerial"],
        "status": ["in_service", "planned"],
        "owner": ["Région"] * 2,
        "operator": ["GIP RECIA"] * 2,
        "source": ["test"] * 2,
    }
    data.update(overrides)
    lines = [
        shapely.LineString([A_XY, (619_500.0, 6_755_100.0), B_XY]),
        shapely.LineString([B_XY, (620_100.0, 6_755_500.0), C_XY]),
    ]
    return gpd.GeoDataFrame(data, geometry=lines, crs=2154)


WriteDelivery = Callable[..., Path]
