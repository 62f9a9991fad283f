"""The network as a graph: sites are nodes, segments are edges of an ``nx.MultiGraph``.

Parallel segments between two sites stay distinct edges (key = segment code). The graph
records its CRS (``G.graph["crs"] = 2154``), the registry version it was built from, the
statuses kept and the time it was built. Graphs are treated as immutable once built:
analyses copy before they remove anything.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

from recor._gc import paused_gc
from recor.config import STORAGE_CRS
from recor.domain import Status
from recor.errors import NotFound
from recor.network._index import EdgeArrays, GraphIndex, compile_index
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
    with paused_gc():
        return _build(sites, segments, statuses=statuses, version=version)


def _build(
    sites: gpd.GeoDataFrame,
    segments: gpd.GeoDataFrame,
    *,
    statuses: Iterable[str] | None,
    version: RegistryVersion | None,
) -> nx.MultiGraph:
    _check_crs(sites, "sites")
    _check_crs(segments, "segments")
    keep = None if statuses is None else {str(s) for s in statuses}
    if keep is not None:
        sites = sites[sites["status"].astype(str).isin(keep)]
        segments = segments[segments["status"].astype(str).isin(keep)]
    graph = _Graph(
        crs=STORAGE_CRS,
        version=version,
        statuses=None if keep is None else tuple(sorted(keep)),
        built_at=datetime.now(UTC),
    )
    nodes = _site_nodes(sites)
    codes = pd.Index(list(nodes))
    a = codes.get_indexer(segments["site_a"].astype(str))
    b = codes.get_indexer(segments["site_b"].astype(str))
    ends_known = (a >= 0) & (b >= 0)
    if not ends_known.all():
        dropped = segments.loc[~ends_known, "code"].tolist()
        log.warning(
            "%d segment(s) end at a site not kept (status filter): %s",
            len(dropped),
            ", ".join(map(str, dropped[:10])),
        )
    segments = segments[ends_known]
    edges = _Edges(segments)
    if segments["code"].is_unique:
        _fill(graph, nodes, edges)
        graph.pending_index = edges.index_arrays(a[ends_known], b[ends_known])
    else:  # codes repeated: networkx merges the repeats; let it (the index follows it)
        graph.add_nodes_from(nodes.items())
        graph.add_edges_from(edges)
    log.info("graph built: %d sites, %d segments", len(graph), len(segments))
    return graph


def _fill(graph: _Graph, nodes: dict[str, dict], edges: _Edges) -> None:
    """Write the nodes into networkx's dict-of-dicts (its documented data structure), and
    leave the edges to be written on first use (:class:`_Graph`)."""
    graph._node.update(nodes)
    graph._adj.update((code, {}) for code in nodes)
    graph.pending_edges = edges


class _Graph(nx.MultiGraph):
    """An ``nx.MultiGraph`` whose edge dicts are written on first use of its adjacency.

    Analyses run on the compiled index, built straight from the frames; writing 200,000
    edge dicts, most of a build's time, is left to the first caller that walks the
    networkx edges (maps, exports, networkx algorithms), and to no one otherwise. Any
    access to the adjacency writes them first, so the graph behaves as a plain one.
    """

    pending_edges: _Edges | None = None
    pending_index: EdgeArrays | None = None

    def compile_pending(self) -> GraphIndex | None:
        """The compiled index from the build's arrays, while the edges are untouched.

        None once anything used the adjacency (edges may have been changed since): the
        index is then read back from the graph itself.
        """
        arrays, self.pending_index = self.pending_index, None
        if arrays is None or self.pending_edges is None:
            return None
        nodes = self._node
        kind = np.array([d.get("kind", "other") for d in nodes.values()], dtype=object)
        xy = np.array(
            [(d.get("x", math.nan), d.get("y", math.nan)) for d in nodes.values()], dtype=float
        )
        return compile_index(list(nodes), kind, xy.reshape(-1, 2), arrays)

    @property
    def _adj(self) -> dict:
        adjacency = self.__dict__["_adjacency"]
        if self.pending_edges is not None:
            with _WRITING:
                edges, self.pending_edges = self.pending_edges, None
                if edges is not None:
                    with paused_gc():
                        _write_edges(adjacency, edges)
        return adjacency

    @_adj.setter
    def _adj(self, value: dict) -> None:
        self.__dict__["_adjacency"] = value


#: One writer at a time (graphs are shared between threads by :class:`GraphCache`).
_WRITING = threading.Lock()


def _write_edges(adjacency: dict, edges: Iterable[tuple[str, str, str, dict]]) -> None:
    """What ``add_edges_from`` would do for unique segment codes, without its checks."""
    for u, v, key, data in edges:
        neighbours = adjacency[u]
        keyed = neighbours.get(v)
        if keyed is None:
            keyed = neighbours[v] = adjacency[v][u] = {}
        keyed[key] = data


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
    hint = "" if statuses is None else "; sites of other statuses: --status or --all-statuses"
    raise NotFound(
        f"no site with code or name {ref!r} in the graph ({len(graph)} sites, {kept}){hint}"
    )


def resolve_sites(graph: nx.MultiGraph, refs: Iterable[str]) -> list[str]:
    """:func:`resolve_site` for each reference."""
    return [resolve_site(graph, ref) for ref in refs]


def _check_crs(frame: gpd.GeoDataFrame, what: str) -> None:
    crs = frame.crs
    if crs is not None and crs.to_epsg() != STORAGE_CRS:
        raise ValueError(f"{what} frame is in {crs.to_string()}; expected EPSG:{STORAGE_CRS}")


def _site_nodes(sites: gpd.GeoDataFrame) -> dict[str, dict[str, Any]]:
    """Node attributes by site code (a repeated code keeps its first place, last values)."""
    geoms = sites.geometry.to_numpy()
    xs = shapely.get_x(geoms).tolist() if len(geoms) else []
    ys = shapely.get_y(geoms).tolist() if len(geoms) else []
    names = _column(sites, "name", None)
    kinds = [str(k) for k in _column(sites, "kind", "other")]
    status = _column(sites, "status", None)
    return {
        code: {
            "name": name,
            "kind": kind,
            "status": state,
            "x": x,
            "y": y,
            "geometry": geom,
        }
        for code, name, kind, state, x, y, geom in zip(
            sites["code"].astype(str).tolist(),
            names,
            kinds,
            status,
            xs,
            ys,
            geoms.tolist(),
            strict=True,
        )
    }


class _Edges:
    """Edge attributes of the segments, as arrays; iterating yields networkx edges."""

    def __init__(self, segments: gpd.GeoDataFrame) -> None:
        self.geoms = segments.geometry.to_numpy()
        if "length_m" in segments:
            lengths = pd.to_numeric(segments["length_m"], errors="coerce").to_numpy(dtype=float)
            lengths = np.where(np.isnan(lengths), segments.geometry.length.to_numpy(), lengths)
        else:
            lengths = segments.geometry.length.to_numpy()
        self.lengths = np.asarray(lengths, dtype=float)
        self.count = _counts(segments, "fibre_count")
        self.used = _counts(segments, "fibres_used")
        # unknown usage is not zero: free fibres are known only when both counts are
        self.free = self.count - self.used
        self.groups = [tuple(g or ()) for g in _column(segments, "risk_groups", ())]
        self.status = _column(segments, "status", None)
        self.install = _column(segments, "installation", None)
        self.codes = segments["code"].astype(str).tolist()
        self.site_a = [str(v) for v in segments["site_a"].tolist()]
        self.site_b = [str(v) for v in segments["site_b"].tolist()]

    def __iter__(self) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
        count, used, free = (
            [None if math.isnan(v) else int(v) for v in values.tolist()]
            for values in (self.count, self.used, self.free)
        )
        for i, (code, a, b) in enumerate(zip(self.codes, self.site_a, self.site_b, strict=True)):
            yield (
                a,
                b,
                code,
                {
                    "length_m": float(self.lengths[i]),
                    "fibre_count": count[i],
                    "fibres_used": used[i],
                    "free_fibres": free[i],
                    "risk_groups": self.groups[i],
                    "status": self.status[i],
                    "installation": self.install[i],
                    "site_a": a,
                    "geometry": self.geoms[i],
                },
            )

    def index_arrays(self, a: np.ndarray, b: np.ndarray) -> EdgeArrays:
        """The arrays of the compiled index (ends as node positions), in insertion order."""
        return EdgeArrays(
            codes=self.codes,
            src=np.asarray(a, dtype=np.int64),
            dst=np.asarray(b, dtype=np.int64),
            length=self.lengths,
            free=self.free,
            fibres=self.count,
            status=np.array(self.status, dtype=object),
            installation=np.array(self.install, dtype=object),
            geometry=np.asarray(self.geoms, dtype=object),
            groups=self.groups,
        )


def _counts(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A nullable count column as floats, NaN where unknown (pandas NA, None or absent)."""
    values = pd.to_numeric(_series(frame, column), errors="coerce")
    return values.astype("Float64").to_numpy(dtype=float, na_value=np.nan)


def _series(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column] if column in frame else pd.Series(np.nan, index=frame.index)


def _column(frame: pd.DataFrame, column: str, default: Any) -> list[Any]:
    """Values of a column, ``default`` where absent (None or NaN)."""
    if column not in frame:
        return [default] * len(frame)
    values = frame[column].astype(object)
    return values.where(values.notna(), default).tolist()
