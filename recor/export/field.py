"""Files for field teams: a route, a what-if or an area as KML or GeoJSON in WGS84.

One layer of mixed features (sites as points, segments as lines, the area as a polygon),
each with ``name`` (what a phone shows), ``code``, ``feature``, ``status`` and its French
label, and the facts a technician needs (kind, fibre count, length, order along a route,
what the failure does to it). Unknown values are left empty, never 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
from shapely.geometry.base import BaseGeometry

from recor.config import STORAGE_CRS
from recor.domain import SITE_KIND_LABELS_FR, STATUS_LABELS_FR
from recor.errors import ConfigurationError
from recor.network.model import Route, WhatIfResult

__all__ = [
    "FIELD_COLUMNS",
    "FIELD_FORMATS",
    "area_features",
    "route_features",
    "whatif_features",
    "write_field",
]

#: Properties of every feature, in order.
FIELD_COLUMNS: tuple[str, ...] = (
    "name",
    "feature",
    "code",
    "kind",
    "kind_label",
    "status",
    "status_label",
    "order",
    "fibre_count",
    "length_m",
    "impact",
    "description",
)

#: File suffix → GDAL driver.
FIELD_FORMATS: dict[str, str] = {".kml": "KML", ".geojson": "GeoJSON", ".json": "GeoJSON"}

_WGS84 = 4326


def route_features(
    route: Route, sites: gpd.GeoDataFrame, segments: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """The sites and segments of a route, in travel order (``order`` from 1).

    Parameters
    ----------
    route
        From :func:`recor.network.shortest_path` (or any route).
    sites, segments
        Registry frames holding at least the route's sites and segments.
    """
    site_rows = _site_rows(sites, route.sites)
    site_rows["order"] = range(1, len(site_rows) + 1)
    segment_rows = _segment_rows(segments, sites, route.segments)
    segment_rows["order"] = range(1, len(segment_rows) + 1)
    summary = (
        f"Itinéraire {route.source} → {route.target} : {route.length_m / 1000:.1f} km,"
        f" {route.joints} jonction(s)"
    )
    frame = _features([segment_rows, site_rows])
    frame["description"] = [f"{d} ({summary})" for d in frame["description"]]
    return frame


def whatif_features(
    result: WhatIfResult,
    sites: gpd.GeoDataFrame,
    segments: gpd.GeoDataFrame,
    area: BaseGeometry | None = None,
) -> gpd.GeoDataFrame:
    """What a failure cuts: segments and sites down, sites cut off the core, the area.

    ``impact`` says ``coupé`` (the element fails) or ``isolé`` (cut off the core).
    """
    cut_segments = _segment_rows(segments, sites, result.cut_segments)
    cut_segments["impact"] = "coupé"
    cut_sites = _site_rows(sites, result.cut_sites)
    cut_sites["impact"] = "coupé"
    isolated = _site_rows(sites, result.sites_cut_off["code"])
    isolated["impact"] = "isolé (plus de chemin vers le cœur)"
    parts = [cut_segments, cut_sites, isolated]
    if area is not None:
        parts.append(_area_row(area, "Zone de la défaillance"))
    return _features(parts)


def area_features(
    sites: gpd.GeoDataFrame, segments: gpd.GeoDataFrame, area: BaseGeometry
) -> gpd.GeoDataFrame:
    """Every site inside ``area`` and every segment crossing it, and the area itself."""
    inside = sites[sites.geometry.intersects(area).to_numpy()]
    crossing = segments[segments.geometry.intersects(area).to_numpy()]
    return _features(
        [
            _segment_rows(crossing, sites, crossing["code"]),
            _site_rows(inside, inside["code"]),
            _area_row(area, "Zone exportée"),
        ]
    )


def write_field(features: gpd.GeoDataFrame, path: Path | str) -> Path:
    """Write field features as KML (``.kml``) or GeoJSON (``.geojson``), in WGS84.

    KML shows ``name`` as each placemark's name and ``description`` as its text.
    """
    path = Path(path)
    driver = FIELD_FORMATS.get(path.suffix.lower())
    if driver is None:
        raise ConfigurationError(f"{path}: field exports are .kml or .geojson files")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    out = features.to_crs(_WGS84)
    options = {}
    if driver == "KML":
        # GDAL's KML writer takes a placemark's <name> and <description> from these fields.
        out = out.rename(columns={"name": "Name", "description": "Description"})
    else:
        options["RFC7946"] = "YES"
    pyogrio.write_dataframe(
        out, path, driver=driver, layer="recor", geometry_type="Unknown", **options
    )
    return path


def _by_code(frame: gpd.GeoDataFrame, codes: Iterable[str], what: str) -> gpd.GeoDataFrame:
    codes = list(codes)
    indexed = frame.set_index("code", drop=False)
    missing = [c for c in codes if c not in indexed.index]
    if missing:
        raise ValueError(f"{what} not in the registry snapshot: {', '.join(missing[:10])}")
    return indexed.loc[codes].reset_index(drop=True)


def _site_rows(sites: gpd.GeoDataFrame, codes: Iterable[str]) -> gpd.GeoDataFrame:
    found = _by_code(sites, codes, "sites")
    names = [n if n else c for n, c in zip(found["name"], found["code"], strict=True)]
    return gpd.GeoDataFrame(
        {
            "name": names,
            "feature": "site",
            "code": found["code"],
            "kind": found["kind"],
            "kind_label": [SITE_KIND_LABELS_FR.get(k, k) for k in found["kind"]],
            "status": found["status"],
            "status_label": [STATUS_LABELS_FR.get(s, s) for s in found["status"]],
            "description": [
                f"{SITE_KIND_LABELS_FR.get(k, k)}, {STATUS_LABELS_FR.get(s, s).lower()}"
                for k, s in zip(found["kind"], found["status"], strict=True)
            ],
        },
        geometry=found.geometry.to_numpy(),
        crs=STORAGE_CRS,
    )


def _segment_rows(
    segments: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, codes: Iterable[str]
) -> gpd.GeoDataFrame:
    found = _by_code(segments, codes, "segments")
    site_names = dict(zip(sites["code"], sites["name"], strict=True))

    def end(code: str) -> str:
        return site_names.get(code) or code

    fibres = found["fibre_count"].astype("Int64")
    return gpd.GeoDataFrame(
        {
            "name": [
                f"{c} : {end(a)} – {end(b)}"
                for c, a, b in zip(found["code"], found["site_a"], found["site_b"], strict=True)
            ],
            "feature": "segment",
            "code": found["code"],
            "kind": "segment",
            "kind_label": "Tronçon",
            "status": found["status"],
            "status_label": [STATUS_LABELS_FR.get(s, s) for s in found["status"]],
            "fibre_count": fibres,
            "length_m": found["length_m"].round(1),
            "description": [
                f"Tronçon {STATUS_LABELS_FR.get(s, s).lower()}, {m / 1000:.2f} km, "
                + ("capacité inconnue" if pd.isna(f) else f"{int(f)} fibres")
                for s, m, f in zip(found["status"], found["length_m"], fibres, strict=True)
            ],
        },
        geometry=found.geometry.to_numpy(),
        crs=STORAGE_CRS,
    )


def _area_row(area: BaseGeometry, label: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": [label], "feature": ["area"], "description": [label]},
        geometry=[area],
        crs=STORAGE_CRS,
    )


def _features(parts: list[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    filled = [p for p in parts if len(p)]
    if filled:
        frame = pd.concat(filled, ignore_index=True)
    else:
        frame = gpd.GeoDataFrame(columns=list(FIELD_COLUMNS), geometry=[], crs=STORAGE_CRS)
    for column in FIELD_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    frame["fibre_count"] = frame["fibre_count"].astype("Int64")
    frame["order"] = frame["order"].astype("Int64")
    frame["length_m"] = frame["length_m"].astype(float)
    return gpd.GeoDataFrame(frame[[*FIELD_COLUMNS]], geometry=frame.geometry, crs=STORAGE_CRS)
