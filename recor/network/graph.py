"""The network as a graph: sites are nodes, segments are edges of an ``nx.MultiGraph``.

Parallel segments between two sites stay distinct edges (key = segment code). The graph
records its CRS (``G.graph["crs"] = 2154``), the registry version it was built from, the
statuses kept and the time it was built. Graphs are treated as immutable once built:
analyses copy before they remove anything.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd

from recor.config import STORAGE_CRS
from recor.domain import Status
from recor.errors import NotFound
from recor.registry.model import Delivery, RegistryVersion

__all__ = [
    "DEFAULT_STATUSES",
    "build_graph",
    "graph_from_delivery",
    "graph_version",
    "resolve_site",
    "resolve_sites",
]

log = logging.getLogger(__name__)

#: By default the graph holds what carries light today.
DEFAULT_STATUSES: tuple[str, ...] = (Status.IN_SERVICE.value,)


def build_graph(
    sites: gpd.GeoDataFrame,
    segments: gpd.GeoDataFrame,
    *,
    statuses: Iterable[str] | None = DEFAULT_STATUSES,
    version: RegistryVersion | None = None,
) -> nx.MultiGraph:
    """Build the network graph from registry frames.

    Parameters
    ----------
    sites
        Frame with ``code``, ``name``, ``kind``, ``status`` and Point geometry (EPSG:2154).
    segments
        Frame with ``code``, ``site_a``, ``site_b``, ``length_m`` (optional: computed from
        the geometry), ``fibre_count``, ``fibres_used``, ``status``, ``installation``,
        ``risk_groups`` (tuple of codes, optional) and LineString geometry (EPSG:2154).
    statuses
        Statuses kept (sites and segments); None keeps every status.
    version
        Registry version the frames were read at, recorded as provenance.

    Returns
    -------
    networkx.MultiGraph
        Nodes keyed by site code, edges keyed by segment code.
    """
    _check_crs(sites, "sites")
    _check_crs(segments, "segments")
    keep = None if statuses is None else {str(s) for s in statuses}
    if keep is not None:
        sites = sites[sites["status"].astype(str).isin(keep)]
        segments = segments[segments["status"].astype(str).isin(keep)]
    graph = nx.MultiGraph(
        crs=STORAGE_CRS,
        version=version,
        statuses=None if keep is None else tuple(sorted(keep)),
        built_at=datetime.now(UTC),
    )
    graph.add_nodes_from(_site_nodes(sites))
    known = set(graph.nodes)
    ends_known = segments["site_a"].isin(known) & segments["site_b"].isin(known)
    if not ends_known.all():
        dropped = segments.loc[~ends_known, "code"].tolist()
        log.warning(
            "%d segment(s) end at a site not kept (status filter): %s",
            len(dropped),
            ", ".join(map(str, dropped[:10])),
        )
    graph.add_edges_from(_segment_edges(segments[ends_known]))
    log.info("graph built: %d sites, %d segments", len(graph), int(ends_known.sum()))
    return graph


def graph_from_delivery(
    delivery: Delivery, *, statuses: Iterable[str] | None = DEFAULT_STATUSES
) -> nx.MultiGraph:
    """Build the graph straight from a delivery (files, samples, benchmarks; no registry).

    Segment lengths are measured on the geometry; shared-risk links come from
    ``delivery.segment_risk_groups``.
    """
    segments = delivery.segments.copy()
    links = delivery.segment_risk_groups
    if links is not None and len(links):
        grouped = links.groupby("segment_code")["risk_group_code"].agg(lambda s: tuple(sorted(s)))
        segments["risk_groups"] = segments["code"].map(grouped)
    segments["risk_groups"] = [
        g if isinstance(g, tuple) else () for g in _series(segments, "risk_groups")
    ]
    return build_graph(delivery.sites, segments, statuses=statuses)


def graph_version(graph: nx.MultiGraph) -> RegistryVersion | None:
    """The registry version a graph was built from (None for frames of unknown origin)."""
    return graph.graph.get("version")


def resolve_site(graph: nx.MultiGraph, ref: str) -> str:
    """Find a site by code, else by exact name, else by case-insensitive name.

    Raises
    ------
    NotFound
        When nothing matches, or when a name matches several sites.
    """
    if ref in graph:
        return ref
    for exact in (True, False):
        wanted = ref if exact else ref.casefold()
        hits = [
            node
            for node, name in graph.nodes(data="name")
            if name is not None and (name if exact else str(name).casefold()) == wanted
        ]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise NotFound(f"site name {ref!r} is ambiguous: {', '.join(sorted(hits))}; use a code")
    statuses = graph.graph.get("statuses")
    kept = "every status" if statuses is None else "status " + ", ".join(statuses)
    raise NotFound(f"no site with code or name {ref!r} in the graph ({len(graph)} sites, {kept})")


def resolve_sites(graph: nx.MultiGraph, refs: Iterable[str]) -> list[str]:
    """:func:`resolve_site` for each reference."""
    return [resolve_site(graph, ref) for ref in refs]


def _check_crs(frame: gpd.GeoDataFrame, what: str) -> None:
    crs = frame.crs
    if crs is not None and crs.to_epsg() != STORAGE_CRS:
        raise ValueError(f"{what} frame is in {crs.to_string()}; expected EPSG:{STORAGE_CRS}")


def _site_nodes(sites: gpd.GeoDataFrame) -> Iterable[tuple[str, dict[str, Any]]]:
    geoms = sites.geometry.to_numpy()
    xs = np.asarray([g.x for g in geoms]) if len(geoms) else np.empty(0)
    ys = np.asarray([g.y for g in geoms]) if len(geoms) else np.empty(0)
    codes = sites["code"].astype(str).tolist()
    names = _column(sites, "name", None)
    kinds = _column(sites, "kind", "other")
    status = _column(sites, "status", None)
    for i, code in enumerate(codes):
        yield (
            code,
            {
                "name": names[i],
                "kind": str(kinds[i]),
                "status": status[i],
                "x": float(xs[i]),
                "y": float(ys[i]),
                "geometry": geoms[i],
            },
        )


def _segment_edges(segments: gpd.GeoDataFrame) -> Iterable[tuple[str, str, str, dict[str, Any]]]:
    geoms = segments.geometry.to_numpy()
    if "length_m" in segments:
        lengths = pd.to_numeric(segments["length_m"], errors="coerce").to_numpy(dtype=float)
        measured = segments.geometry.length.to_numpy()
        lengths = np.where(np.isnan(lengths), measured, lengths)
    else:
        lengths = segments.geometry.length.to_numpy()
    count = _counts(segments, "fibre_count")
    used = _counts(segments, "fibres_used")
    groups = _column(segments, "risk_groups", ())
    status = _column(segments, "status", None)
    install = _column(segments, "installation", None)
    for i, (code, a, b) in enumerate(
        zip(
            segments["code"].astype(str).tolist(),
            segments["site_a"].tolist(),
            segments["site_b"].tolist(),
            strict=True,
        )
    ):
        # unknown usage is not zero: free fibres are known only when both counts are
        free = count[i] - used[i]
        yield (
            str(a),
            str(b),
            code,
            {
                "length_m": float(lengths[i]),
                "fibre_count": None if math.isnan(count[i]) else int(count[i]),
                "fibres_used": None if math.isnan(used[i]) else int(used[i]),
                "free_fibres": None if math.isnan(free) else int(free),
                "risk_groups": tuple(groups[i] or ()),
                "status": status[i],
                "installation": install[i],
                "site_a": str(a),
                "geometry": geoms[i],
            },
        )


def _counts(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A nullable count column as floats, NaN where unknown (pandas NA, None or absent)."""
    values = pd.to_numeric(_series(frame, column), errors="coerce")
    return values.astype("Float64").to_numpy(dtype=float, na_value=np.nan)


def _series(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column] if column in frame else pd.Series(np.nan, index=frame.index)


def _column(frame: pd.DataFrame, column: str, default: Any) -> list[Any]:
    if column not in frame:
        return [default] * len(frame)
    return [default if _missing(v) else v for v in frame[column].tolist()]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
