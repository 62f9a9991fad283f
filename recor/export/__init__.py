"""Hand the registry to others: QGIS project, GeoPackage snapshot, OFDS open data, field files.

Each format is one module; :mod:`recor.export.snapshot` reads the registry once for all.
"""

from __future__ import annotations

from recor.export.field import area_features, route_features, whatif_features, write_field
from recor.export.gpkg import write_gpkg
from recor.export.ofds import ofds_geojson, ofds_network, write_ofds
from recor.export.snapshot import Snapshot, read_snapshot

__all__ = [
    "Snapshot",
    "area_features",
    "ofds_geojson",
    "ofds_network",
    "read_snapshot",
    "route_features",
    "whatif_features",
    "write_field",
    "write_gpkg",
    "write_ofds",
]
