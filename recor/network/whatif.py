"""What-if failures: cut segments, shared-risk groups, sites or an area, and see what breaks."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from scipy.sparse.csgraph import dijkstra
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from recor.config import STORAGE_CRS, NetworkSettings
from recor.errors import NotFound
from recor.network._index import GraphIndex, graph_index
from recor.network._structure import core_reach, isolated_core
from recor.network.graph import graph_version, resolve_site
from recor.network.model import Provenance, WhatIfResult
from recor.network.redundancy import core_sites
from recor.network.routing import dijkstra_path, make_route

__all__ = ["Failure", "circle", "failure_elements", "what_if"]

#: A failure: ``(segments, risk_groups, sites, area)``.
Failure = tuple[Sequence[str], Sequence[str], Sequence[str], BaseGeometry | None]


def circle(x: float, y: float, radius_m: float) -> BaseGeometry:
    """A disaster disk (EPSG:2154) to pass as ``area``; ``radius_m`` must be more than 0."""
    if not radius_m > 0:
        # A negative buffer is an empty polygon: the what-if would silently cut nothing.
        raise ValueError(f"radius_m {radius_m!r}: expected a disk radius of more than 0 m")
    return Point(x, y).buffer(radius_m, quad_segs=32)


def failure_elements(
    index: GraphIndex,
    segments: Iterable[str] = (),
    risk_groups: Iterable[str] = (),
    sites: Iterable[str] = (),
    area: BaseGeometry | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Ids of the edges and nodes a failure takes down (sites take their segments along)."""
    dead_edges: set[int] = set()
    for code in segments:
        if code not in index.edge_id:
            raise NotFound(f"segment {code!r} to cut is not in the graph")
        dead_edges.add(index.edge_id[code])
    for group in risk_groups:
        if group not in index.group_edges:
            raise NotFound(f"shared-risk group {group!r} has no segment in the graph")
        dead_edges.update(index.group_edges[group].tolist())
    dead_nodes = set()
    for code in sites:
        if code not in index.node_id:
            raise NotFound(f"site {code!r} to cut is not in the graph")
        dead_nodes.add(index.node_id[code])
    if area is not None:
        dead_edges.update(np.flatnonzero(shapely.intersects(index.edge_geom, area)).tolist())
        inside = shapely.intersects_xy(area, index.xy[:, 0], index.xy[:, 1])
        dead_nodes.update(np.flatnonzero(inside).tolist())
    return np.asarray(sorted(dead_edges), dtype=np.int64), np.asarray(
        sorted(dead_nodes), dtype=np.int64
    )


def what_if(
    graph: nx.MultiGraph,
    *,
    segments: Iterable[str] = (),
    risk_groups: Iterable[str] = (),
    sites: Iterable[str] = (),
    area: BaseGeometry | None = None,
    routes: Iterable[tuple[str, str]] | None = None,
    core: Iterable[str] | None = None,
    settings: NetworkSettings | None = None,
) -> WhatIfResult:
    """Simulate a failure.

    Parameters
    ----------
    graph
        Network graph (left untouched).
    segments, risk_groups, sites
        Codes of what fails (sites may be names).
    area
        Polygon (EPSG:2154), e.g. a flood zone or :func:`circle`: every segment crossing it
        and every site inside it fails.
    routes
        Pairs of sites whose route to check; default: every non-passive site to its nearest
        core site.
    core
        Core site codes; default: sites of a core kind.
    settings
        Core and passive kinds.

    Returns
    -------
    WhatIfResult
        ``routes`` has one row per route: ``broken``, reroute length, ``stretch_pct``,
        ``reroute_min_free_fibres`` (capacity left on the reroute; None when a segment of
        the reroute has unknown free fibres, named in ``reroute_unknown_free``) and the
        reroute geometry. ``core_isolated`` lists the core sites (core set and hosting
        kinds: datacentres, CHATONs) left without a path to any other one. Fibre-km sums
        count known fibres only; the ``unknown_*_km`` fields give the km left out.
    """
    settings = settings or NetworkSettings()
    index = graph_index(graph)
    site_codes = [resolve_site(graph, s) for s in sites]
    dead_e, dead_n = failure_elements(index, segments, risk_groups, site_codes, area)
    core_ids = np.asarray(
        [index.node_id[c] for c in core_sites(graph, core, settings)], dtype=np.int64
    )
    nothing = np.empty(0, dtype=np.int64)
    before = core_reach(index, core_ids, nothing, nothing)
    after = core_reach(index, core_ids, dead_e, dead_n)
    lost = before & ~after
    lost[dead_n] = False
    alive = _alive_edges(index, dead_e, dead_n)
    if routes is None:
        table = _routes_to_core(graph, index, core_ids, alive, dead_n, settings)
    else:
        pairs = [(resolve_site(graph, a), resolve_site(graph, b)) for a, b in routes]
        table = _routes_between(graph, index, pairs, alive)
    km = index.length / 1000.0
    known_free, known_count = ~np.isnan(index.free), ~np.isnan(index.fibres)
    free_km = np.where(known_free, index.free, 0.0) * km
    hosting = np.flatnonzero(np.isin(index.kind.astype(str), list(settings.hosting_kinds)))
    isolated = isolated_core(index, np.concatenate([core_ids, hosting]), dead_e, dead_n)
    params = {
        "segments": sorted(index.edges[e] for e in dead_e),
        "risk_groups": sorted(risk_groups),
        "sites": site_codes,
        "area": area.wkt if area is not None else None,
        "routes": "nearest core" if routes is None else "given pairs",
    }
    return WhatIfResult(
        cut_segments=tuple(index.edges[e] for e in np.flatnonzero(~alive)),
        cut_sites=tuple(index.nodes[v] for v in dead_n),
        sites_cut_off=_site_frame(graph, index, np.flatnonzero(lost)),
        routes=table,
        fibre_km_lost=float((np.where(known_count, index.fibres, 0.0) * km)[~alive].sum()),
        free_fibre_km_before=float(free_km.sum()),
        free_fibre_km_after=float(free_km[alive].sum()),
        provenance=Provenance(graph_version(graph), params),
        core_isolated=_site_frame(graph, index, isolated),
        unknown_count_km_lost=float(km[~alive & ~known_count].sum()),
        unknown_free_km_before=float(km[~known_free].sum()),
        unknown_free_km_after=float(km[alive & ~known_free].sum()),
    )


def _alive_edges(index: GraphIndex, dead_e: np.ndarray, dead_n: np.ndarray) -> np.ndarray:
    alive_node = np.ones(index.n, dtype=bool)
    alive_node[dead_n] = False
    alive = alive_node[index.src] & alive_node[index.dst]
    alive[dead_e] = False
    return alive


def _routes_between(
    graph: nx.MultiGraph, index: GraphIndex, pairs: list[tuple[str, str]], alive: np.ndarray
) -> gpd.GeoDataFrame:
    rows = []
    damaged = np.where(alive, index.length, math.inf)
    for a, b in pairs:
        s, t = index.node_id[a], index.node_id[b]
        old = dijkstra_path(index, s, t, "length")
        new = dijkstra_path(index, s, t, damaged)
        rows.append(_row(graph, index, a, b, old, new, alive))
    return _route_frame(rows)


def _routes_to_core(
    graph: nx.MultiGraph,
    index: GraphIndex,
    core_ids: np.ndarray,
    alive: np.ndarray,
    dead_n: np.ndarray,
    settings: NetworkSettings,
) -> gpd.GeoDataFrame:
    """Each non-passive site's route to its nearest core site, before and after the cut."""
    passive = np.isin(index.kind.astype(str), list(settings.passive_kinds))
    wanted = np.flatnonzero(~passive & ~np.isin(np.arange(index.n), core_ids))
    old_d, old_p, old_src = dijkstra(
        index.csr(), indices=core_ids, min_only=True, return_predecessors=True
    )
    damaged = np.where(alive, index.length, math.inf)
    living = core_ids[~np.isin(core_ids, dead_n)]
    new_d, new_p = np.full(index.n, math.inf), np.full(index.n, -9999)
    if len(living):
        forbidden = 4.0 * float(index.length.sum()) + 1.0
        new_d, new_p, _ = dijkstra(
            index.weighted_csr(damaged, forbidden),
            indices=living,
            min_only=True,
            return_predecessors=True,
        )
        new_d[new_d >= forbidden] = math.inf
    new_d[dead_n] = math.inf
    rows = []
    for v in wanted.tolist():
        if not math.isfinite(old_d[v]):
            continue
        old = _chain(index, old_p, v, index.length)
        new: tuple[list[int], list[int], float] | None = old
        if not alive[old[1]].all():
            new = _chain(index, new_p, v, damaged) if math.isfinite(new_d[v]) else None
        target = index.nodes[int(old_src[v])]
        rows.append(_row(graph, index, index.nodes[v], target, old, new, alive))
    return _route_frame(rows)


def _chain(
    index: GraphIndex, pred: np.ndarray, v: int, weights: np.ndarray
) -> tuple[list[int], list[int], float]:
    """Path from ``v`` to its core site along predecessors (cheapest parallel segment per hop)."""
    nodes = [v]
    while pred[nodes[-1]] >= 0:
        nodes.append(int(pred[nodes[-1]]))
    edges = [index.cheapest_edge(a, b, weights) for a, b in itertools.pairwise(nodes)]
    return nodes, edges, float(weights[edges].sum())


def _row(
    graph: nx.MultiGraph,
    index: GraphIndex,
    a: str,
    b: str,
    old: tuple[list[int], list[int], float] | None,
    new: tuple[list[int], list[int], float] | None,
    alive: np.ndarray,
) -> dict:
    broken = old is not None and not bool(alive[old[1]].all())
    reroute = make_route(graph, index, *new, {}) if new is not None else None
    old_len = float(index.length[old[1]].sum()) if old else math.nan
    new_len = reroute.length_m if reroute else math.nan
    return {
        "source": a,
        "target": b,
        "length_m": old_len,
        "broken": broken or (old is not None and new is None),
        "reroute_target": reroute.target if reroute else None,
        "reroute_length_m": new_len,
        "stretch_pct": (new_len - old_len) / old_len * 100.0 if old_len > 0 else math.nan,
        "reroute_min_free_fibres": reroute.min_free_fibres if reroute else None,
        "reroute_unknown_free": reroute.unknown_free_segments if reroute else (),
        "reroute_segments": reroute.segments if reroute else (),
        "geometry": reroute.geometry if reroute else None,
    }


def _route_frame(rows: list[dict]) -> gpd.GeoDataFrame:
    columns = [
        "source",
        "target",
        "length_m",
        "broken",
        "reroute_target",
        "reroute_length_m",
        "stretch_pct",
        "reroute_min_free_fibres",
        "reroute_unknown_free",
        "reroute_segments",
        "geometry",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    frame["broken"] = frame["broken"].astype(bool)
    frame["reroute_min_free_fibres"] = frame["reroute_min_free_fibres"].astype("Int64")
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=STORAGE_CRS)


def _site_frame(graph: nx.MultiGraph, index: GraphIndex, ids: np.ndarray) -> gpd.GeoDataFrame:
    codes = [index.nodes[v] for v in ids.tolist()]
    return gpd.GeoDataFrame(
        {
            "code": codes,
            "name": [graph.nodes[c].get("name") for c in codes],
            "kind": [graph.nodes[c].get("kind") for c in codes],
        },
        geometry=gpd.points_from_xy(index.xy[ids, 0], index.xy[ids, 1]),
        crs=STORAGE_CRS,
    )
