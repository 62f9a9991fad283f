"""Redundancy: bridges, articulation sites, shared-risk cuts, and how each site reaches the core.

Per-site path counts are capped at 2 ("at least two"): what matters is whether a site
survives any single failure. Edge and node counts are exact (Menger, read off the dominator
tree of the graph with every segment subdivided, rooted at the merged core). The shared-risk
count is 1 when a single site, segment or shared-risk group separates the site from the
core; 2 means no single failure of any kind does (see docs/network.md for the caveat).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from recor._gc import paused_gc
from recor.config import STORAGE_CRS, NetworkSettings
from recor.errors import NotFound
from recor.network._index import GraphIndex, graph_index
from recor.network._structure import core_reach, core_tree, cycle_labels, is_dependent
from recor.network.graph import graph_version, resolve_sites
from recor.network.model import Provenance, RedundancyReport, SrlgCut

__all__ = [
    "LEVELS",
    "articulation_sites",
    "bridges",
    "core_sites",
    "redundancy_report",
    "srlg_cuts",
    "two_edge_components",
]

log = logging.getLogger(__name__)

#: Redundancy levels: which disjoint-path count decides "single-homed".
LEVELS = ("edge", "node", "srlg")


def bridges(graph: nx.MultiGraph) -> list[str]:
    """Segments whose loss alone splits the network (parallel segments are never bridges)."""
    index = graph_index(graph)
    return sorted(index.edges[e] for e in index.ig.bridges())


def articulation_sites(graph: nx.MultiGraph) -> list[str]:
    """Sites whose loss alone splits the network."""
    index = graph_index(graph)
    return sorted(index.nodes[v] for v in index.ig.articulation_points())


def two_edge_components(graph: nx.MultiGraph) -> list[frozenset[str]]:
    """Maximal groups of sites no single segment failure can separate (largest first)."""
    index = graph_index(graph)
    keep = np.ones(index.m, dtype=bool)
    keep[index.ig.bridges()] = False
    kept = index.ig.subgraph_edges(np.flatnonzero(keep).tolist(), delete_vertices=False)
    groups = [frozenset(index.nodes[v] for v in c) for c in kept.connected_components()]
    return sorted(groups, key=lambda g: (-len(g), sorted(g)[0]))


def core_sites(
    graph: nx.MultiGraph, core: Iterable[str] | None = None, settings: NetworkSettings | None = None
) -> list[str]:
    """The core set: the sites named, else every site whose kind is a core kind."""
    settings = settings or NetworkSettings()
    if core is not None:
        return resolve_sites(graph, core)
    found = [n for n, kind in graph.nodes(data="kind") if kind in settings.core_kinds]
    if not found:
        raise NotFound(
            f"no site of kind {', '.join(settings.core_kinds)} in the graph: name a core set"
        )
    return found


def srlg_cuts(
    graph: nx.MultiGraph, core: Iterable[str] | None = None, settings: NetworkSettings | None = None
) -> list[SrlgCut]:
    """Shared-risk groups whose failure splits the network, with the sites cut off the core."""
    index = graph_index(graph)
    core_ids = _ids(index, core_sites(graph, core, settings))
    return _srlg_cuts(index, core_ids, cycle_labels(index))


def redundancy_report(
    graph: nx.MultiGraph,
    *,
    core: Iterable[str] | None = None,
    level: str = "srlg",
    settings: NetworkSettings | None = None,
) -> RedundancyReport:
    """Full redundancy report of a network.

    Parameters
    ----------
    graph
        Network graph.
    core
        Site codes or names of the core; default: every site of a core kind (datacentres).
    level
        Which disjointness makes a site "single-homed": ``"edge"``, ``"node"``, ``"srlg"``.
    settings
        Core and passive site kinds.

    Returns
    -------
    RedundancyReport
    """
    # millions of acyclic objects are made (index arrays to lists, igraph graphs): the cyclic
    # collector's full passes over them cost a third of the report (6.0-6.5 s -> 4.0 s at
    # 200,000 segments)
    with paused_gc():
        return _report(graph, core=core, level=level, settings=settings)


def _report(
    graph: nx.MultiGraph,
    *,
    core: Iterable[str] | None,
    level: str,
    settings: NetworkSettings | None,
) -> RedundancyReport:
    if level not in LEVELS:
        raise ValueError(f"level {level!r}: expected one of {LEVELS}")
    settings = settings or NetworkSettings()
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    index = graph_index(graph)
    core_codes = core_sites(graph, core, settings)
    core_ids = _ids(index, core_codes)
    timings["index"] = time.perf_counter() - clock

    clock = time.perf_counter()
    bridge_codes = bridges(graph)
    cut_sites = articulation_sites(graph)
    components = two_edge_components(graph)
    timings["bridges_articulations_components"] = time.perf_counter() - clock

    clock = time.perf_counter()
    cuts = _srlg_cuts(index, core_ids, cycle_labels(index))
    timings["srlg_cuts"] = time.perf_counter() - clock

    clock = time.perf_counter()
    sites = _site_table(index, core_ids, cuts, settings)
    timings["per_site_paths"] = time.perf_counter() - clock

    clock = time.perf_counter()
    single = _single_homed(index, sites, level, cuts, settings)
    timings["single_homed_new_build"] = time.perf_counter() - clock
    sites = sites.drop(columns=["_top", "_top_edge", "_branch"])
    sites.insert(1, "name", [graph.nodes[c].get("name") for c in sites["code"]])
    single.insert(1, "name", [graph.nodes[c].get("name") for c in single["code"]])
    params = {"core": sorted(core_codes), "level": level, "core_kinds": settings.core_kinds}
    return RedundancyReport(
        bridges=tuple(bridge_codes),
        articulation_sites=tuple(cut_sites),
        two_edge_components=components,
        srlg_cuts=cuts,
        core=tuple(sorted(core_codes)),
        level=level,
        sites=sites,
        single_homed=single,
        provenance=Provenance(graph_version(graph), params),
        timings_s=timings,
    )


def _srlg_cuts(index: GraphIndex, core_ids: np.ndarray, labels: np.ndarray) -> list[SrlgCut]:
    before = core_reach(index, core_ids, np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))
    cuts = []
    for group, members in sorted(index.group_edges.items()):
        if not is_dependent(labels[members]):
            continue
        after = core_reach(index, core_ids, members, np.empty(0, dtype=np.int64))
        lost = np.flatnonzero(before & ~after)
        cuts.append(
            SrlgCut(
                group=group,
                segments=tuple(sorted(index.edges[e] for e in members)),
                sites_cut_off=tuple(sorted(index.nodes[v] for v in lost)),
            )
        )
    return cuts


def _site_table(
    index: GraphIndex, core_ids: np.ndarray, cuts: list[SrlgCut], settings: NetworkSettings
) -> gpd.GeoDataFrame:
    # passive sites (chambers) serve nobody: they weigh 0 and never rank as single-homed
    weight = (~np.isin(index.kind.astype(str), list(settings.passive_kinds))).astype(float)
    tree = core_tree(index, core_ids, weight)
    dist, _, sources = dijkstra(
        index.csr(), directed=False, indices=core_ids, min_only=True, return_predecessors=True
    )
    group_cut = np.zeros(index.n, dtype=bool)
    for cut in cuts:
        group_cut[[index.node_id[c] for c in cut.sites_cut_off]] = True
    srlg = np.where(tree.node_paths < 2, tree.node_paths, np.where(group_cut, 1, 2))
    is_core = np.zeros(index.n, dtype=bool)
    is_core[core_ids] = True
    names = np.asarray(index.nodes, dtype=object)
    nearest = np.where(sources >= 0, names[np.maximum(sources, 0)], None)
    frame = pd.DataFrame(
        {
            "code": index.nodes,
            "kind": index.kind,
            "is_core": is_core,
            "nearest_core": nearest,
            "core_distance_m": np.where(np.isfinite(dist), dist, np.nan),
            "edge_paths": tree.edge_paths,
            "node_paths": tree.node_paths,
            "srlg_paths": srlg,
            "served": tree.served.astype(int),
            "_top": tree.top,
            "_top_edge": tree.top_edge,
            "_branch": tree.branch,
        }
    )
    return gpd.GeoDataFrame(
        frame, geometry=gpd.points_from_xy(index.xy[:, 0], index.xy[:, 1]), crs=STORAGE_CRS
    )


def _single_homed(
    index: GraphIndex,
    sites: gpd.GeoDataFrame,
    level: str,
    cuts: list[SrlgCut],
    settings: NetworkSettings,
) -> gpd.GeoDataFrame:
    column = f"{level}_paths"
    sites["single_homed"] = sites[column] <= 1
    serving = ~sites["kind"].astype(str).isin(settings.passive_kinds)
    chosen = np.flatnonzero((sites["single_homed"] & serving).to_numpy())
    targets, km = _new_build(index, sites, chosen, level, cuts)
    sites["new_build_to"] = None
    sites["new_build_km"] = np.nan
    sites.loc[sites.index[chosen], "new_build_to"] = targets
    sites.loc[sites.index[chosen], "new_build_km"] = km
    ranked = sites.iloc[chosen].sort_values(["served", "new_build_km"], ascending=[False, True])
    return ranked.drop(columns=["_top", "_top_edge", "_branch"]).reset_index(drop=True)


def _new_build(
    index: GraphIndex, sites: gpd.GeoDataFrame, chosen: np.ndarray, level: str, cuts: list[SrlgCut]
) -> tuple[list[str | None], list[float]]:
    """Nearest site (straight line) that would give each chosen site an independent path.

    A candidate must reach the core without any of the chosen site's single points of
    failure at the level asked: it is not one of them and is not behind one of them (not
    in the dominator subtree of the site's top dominator, or of its top bridge at edge
    level), and no shared-risk group that cuts the site off cuts it off too (srlg).
    A site already cut off (0 paths) gets a first link only.
    """
    if not len(chosen):
        return [], []
    reach = (sites["edge_paths"] > 0).to_numpy()
    if level == "edge":
        top = branch = sites["_top_edge"].to_numpy()
    else:
        top, branch = sites["_top"].to_numpy(), sites["_branch"].to_numpy()
    lost_masks = []
    if level == "srlg":
        for cut in cuts:
            mask = np.zeros(index.n, dtype=bool)
            mask[[index.node_id[c] for c in cut.sites_cut_off]] = True
            lost_masks.append(mask)
    found = _nearest_usable(index.xy, chosen, _Usable(reach, top, branch, lost_masks))
    targets = [index.nodes[f] if f >= 0 else None for f in found.tolist()]
    ends = index.xy[np.maximum(found, 0)] - index.xy[chosen]
    gap = np.where(found >= 0, np.hypot(ends[:, 0], ends[:, 1]), np.nan)
    return targets, (gap / 1000).tolist()


class _Usable:
    """Which sites give a chosen site an independent path (rows: chosen sites)."""

    def __init__(
        self, reach: np.ndarray, top: np.ndarray, branch: np.ndarray, masks: list[np.ndarray]
    ) -> None:
        self.reach, self.top, self.branch, self.masks = reach, top, branch, masks

    def __call__(self, sites: np.ndarray, hits: np.ndarray) -> np.ndarray:
        """Boolean per hit: ``hits[i, j]`` would do for ``sites[i]``."""
        ok = (hits != sites[:, None]) & self.reach[hits]
        top = self.top[sites][:, None]
        ok &= (top < 0) | (self.branch[hits] != top)
        for mask in self.masks:
            ok &= ~(mask[sites][:, None] & mask[hits])
        return ok

    def key(self, site: int) -> tuple[int, ...]:
        """What decides the usable sites of ``site``, apart from the site itself."""
        return (int(self.top[site]), *(i for i, mask in enumerate(self.masks) if mask[site]))

    def count_usable(self, site: int) -> int:
        """How many sites of the network would do for ``site`` (itself aside)."""
        everyone = np.arange(len(self.reach))
        ok = self(np.asarray([site]), everyone[None, :])
        ok[0, site] = True
        return int(ok.sum())


def _nearest_usable(xy: np.ndarray, chosen: np.ndarray, usable: _Usable) -> np.ndarray:
    """Nearest usable site of each chosen site (-1: none), by the straight line.

    The 16, 256 then 4096 nearest sites of every chosen site are looked at, in one tree
    query per round for all the sites still without an answer. The sites still without
    one then query just enough neighbours to hold a usable site when there is one: the
    number of sites that would not do, plus two (the same for every site of one branch;
    the first usable site of the list does not depend on its length). Before, 65,536
    neighbours and more: at 200,000 segments a hundred single-homed sites sit in a
    branch of thousands of sites (1.8 s -> 0.5 s of CPU).
    """
    tree = cKDTree(xy)
    n = len(xy)
    found = np.full(len(chosen), -1, dtype=np.int64)
    todo = np.arange(len(chosen))
    for k in (16, 256, 4096):
        todo = _query_round(tree, chosen, todo, min(k, n), usable, found)
        if not len(todo) or k >= n:
            return found
    groups: dict[tuple[int, ...], list[int]] = {}
    for row in todo.tolist():
        groups.setdefault(usable.key(int(chosen[row])), []).append(row)
    for rows in groups.values():
        usable_count = usable.count_usable(int(chosen[rows[0]]))
        if usable_count:
            k = min(n, n - usable_count + 2)
            _query_round(tree, chosen, np.asarray(rows), k, usable, found)
    return found


def _query_round(
    tree: cKDTree, chosen: np.ndarray, todo: np.ndarray, k: int, usable: _Usable, found: np.ndarray
) -> np.ndarray:
    """Look at the ``k`` nearest sites of the rows ``todo``; the rows left without an answer."""
    sites = chosen[todo]
    _, hits = tree.query(tree.data[sites], k=k)
    hits = np.asarray(hits, dtype=np.int64).reshape(len(todo), k)
    ok = usable(sites, hits)
    hit = ok.any(axis=1)
    first = np.argmax(ok, axis=1)
    found[todo[hit]] = hits[hit, first[hit]]
    return todo[~hit]


def _ids(index: GraphIndex, codes: Iterable[str]) -> np.ndarray:
    return np.asarray([index.node_id[c] for c in codes], dtype=np.int64)
