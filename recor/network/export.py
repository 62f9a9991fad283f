"""Results as GeoDataFrames (EPSG:2154), for maps, GeoJSON and CSV."""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import networkx as nx

from recor.config import STORAGE_CRS
from recor.network.model import Route, RoutePair

__all__ = ["graph_frames", "pair_frame", "routes_frame"]


def routes_frame(routes: Sequence[Route], role: Sequence[str] | None = None) -> gpd.GeoDataFrame:
    """One row per route: rank, ends, length, joints, free fibres, segments, geometry.

    ``min_free_fibres`` is a nullable integer: null when a segment's free fibres are
    unknown, those segments being listed in ``unknown_free_segments``.
    """
    rows = []
    for rank, route in enumerate(routes, start=1):
        row = route.as_dict() | {"rank": rank, "geometry": route.geometry}
        row["sites"] = " > ".join(route.sites)
        row["segments"] = " ".join(route.segments)
        row["risk_groups"] = " ".join(row["risk_groups"])
        row["unknown_free_segments"] = " ".join(row["unknown_free_segments"])
        if role is not None:
            row["role"] = role[rank - 1]
        rows.append(row)
    columns = ["rank", "source", "target", "length_m", "cost", "joints", "min_free_fibres"]
    columns += ["unknown_free_segments", "risk_groups", "sites", "segments", "geometry"]
    if role is not None:
        columns.insert(1, "role")
    frame = gpd.GeoDataFrame(rows, columns=columns, geometry="geometry", crs=STORAGE_CRS)
    # unknown stays unknown (null in GeoJSON, empty in CSV), never a float NaN or a 0
    frame["min_free_fibres"] = frame["min_free_fibres"].astype("Int64")
    return frame


def pair_frame(pair: RoutePair) -> gpd.GeoDataFrame:
    """The two routes of a diverse pair (``role`` = primary / secondary)."""
    routes = [pair.first] + ([pair.second] if pair.second else [])
    return routes_frame(routes, role=["primary", "secondary"][: len(routes)])


def graph_frames(graph: nx.MultiGraph) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The graph back as (sites, segments) frames, e.g. to draw it."""
    sites = gpd.GeoDataFrame(
        [
            {"code": n}
            | {k: v for k, v in d.items() if k != "geometry"}
            | {"geometry": d.get("geometry")}
            for n, d in graph.nodes(data=True)
        ],
        geometry="geometry",
        crs=STORAGE_CRS,
    )
    segments = gpd.GeoDataFrame(
        [
            {"code": k, "site_a": u, "site_b": v}
            | {key: val for key, val in d.items() if key not in ("geometry", "site_a")}
            | {"geometry": d.get("geometry")}
            for u, v, k, d in graph.edges(keys=True, data=True)
        ],
        geometry="geometry",
        crs=STORAGE_CRS,
    )
    return sites, segments
