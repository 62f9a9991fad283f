"""Compiled view of a network graph: integer ids, numpy edge arrays, an igraph twin.

networkx stays the public graph type; hot paths (Dijkstra, bridges, dominators, flows)
run on this index, built once per graph object and cached (graphs are immutable).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import igraph as ig
import networkx as nx
import numpy as np
import scipy.sparse as sp

from recor._gc import paused_gc

__all__ = ["EdgeArrays", "GraphIndex", "compile_index", "graph_index"]

_CACHE: weakref.WeakKeyDictionary[nx.MultiGraph, GraphIndex] = weakref.WeakKeyDictionary()


@dataclass
class GraphIndex:
    """Integer-indexed arrays of one graph (node i = ``nodes[i]``, edge j = ``edges[j]``)."""

    nodes: list[str]
    node_id: dict[str, int]
    edges: list[str]
    edge_id: dict[str, int]
    src: np.ndarray
    dst: np.ndarray
    length: np.ndarray
    free: np.ndarray
    fibres: np.ndarray
    status: np.ndarray
    installation: np.ndarray
    kind: np.ndarray
    xy: np.ndarray
    edge_geom: np.ndarray
    edge_groups: list[tuple[str, ...]]
    group_edges: dict[str, np.ndarray]
    ig: ig.Graph
    component: np.ndarray
    _csr: sp.csr_matrix | None = field(default=None, repr=False)
    csr_row: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64), repr=False)
    csr_members: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64), repr=False)
    csr_span: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64), repr=False)
    _adjacency: tuple[list[int], list[int], list[int]] | None = field(default=None, repr=False)
    #: flow-network arc structures of :mod:`recor.network._flow`, by node splitting
    flow_arcs: dict = field(default_factory=dict, repr=False)

    @property
    def n(self) -> int:
        """Number of nodes."""
        return len(self.nodes)

    @property
    def m(self) -> int:
        """Number of edges."""
        return len(self.edges)

    def incident(self, node: int) -> list[int]:
        """Edge ids touching a node."""
        return self.ig.incident(node)

    def other_end(self, edge: int, node: int) -> int:
        """The end of ``edge`` that is not ``node``."""
        a = int(self.src[edge])
        return int(self.dst[edge]) if a == node else a

    def edges_of_nodes(self, nodes: Iterable[int]) -> np.ndarray:
        """Ids of edges touching any of the nodes."""
        out: set[int] = set()
        for node in nodes:
            out.update(self.ig.incident(node))
        return np.fromiter(out, dtype=np.int64, count=len(out))

    def csr(self) -> sp.csr_matrix:
        """Symmetric sparse matrix of lengths, parallel edges reduced to the shortest.

        Entry ``j`` stands for the site pair ``(csr_row[j], indices[j])``; the segments
        between them are ``csr_members[csr_span[j]:csr_span[j + 1]]``, shortest first.
        """
        if self._csr is None:
            edge_ids = np.arange(self.m)
            rows = np.concatenate([self.src, self.dst])
            cols = np.concatenate([self.dst, self.src])
            vals = np.concatenate([self.length, self.length])
            ids = np.concatenate([edge_ids, edge_ids])
            loop = rows == cols
            rows, cols, vals, ids = rows[~loop], cols[~loop], vals[~loop], ids[~loop]
            order = np.lexsort((vals, cols, rows))
            rows, cols, vals, ids = rows[order], cols[order], vals[order], ids[order]
            first = np.ones(len(rows), dtype=bool)
            first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
            starts = np.flatnonzero(first)
            # scipy drops explicit zeros; a tiny floor keeps 0 m segments as edges
            data = np.maximum(vals[starts], 1e-9)
            indptr = np.concatenate([[0], np.cumsum(np.bincount(rows[starts], minlength=self.n))])
            self._csr = sp.csr_matrix((data, cols[starts], indptr), shape=(self.n, self.n))
            self.csr_row = rows[starts]
            self.csr_members = ids
            self.csr_span = np.concatenate([starts, [len(ids)]])
        return self._csr

    def adjacency(self) -> tuple[list[int], list[int], list[int]]:
        """``(start, neighbour, edge)`` lists: node v's incident edges are
        ``edge[start[v]:start[v + 1]]``, leading to ``neighbour[...]`` (plain lists, for
        the Python-level searches that visit few nodes)."""
        if self._adjacency is None:
            ends = np.concatenate([self.src, self.dst])
            others = np.concatenate([self.dst, self.src])
            ids = np.concatenate([np.arange(self.m), np.arange(self.m)])
            order = np.argsort(ends, kind="stable")
            start = np.concatenate([[0], np.cumsum(np.bincount(ends, minlength=self.n))])
            self._adjacency = (start.tolist(), others[order].tolist(), ids[order].tolist())
        return self._adjacency

    def weighted_csr(self, weights: np.ndarray, forbidden: float) -> sp.csr_matrix:
        """The same pattern as :meth:`csr`, each pair weighted by its cheapest segment.

        Infinite weights become ``forbidden`` (scipy's Dijkstra mishandles infinite entries):
        pass a value larger than any route, and treat costs reaching it as "no route".
        """
        base = self.csr()
        cheapest = np.minimum.reduceat(weights[self.csr_members], self.csr_span[:-1])
        data = np.where(np.isfinite(cheapest), np.maximum(cheapest, 1e-9), forbidden)
        return sp.csr_matrix((data, base.indices, base.indptr), base.shape)

    def cheapest_edge(self, a: int, b: int, weights: np.ndarray | None = None) -> int:
        """Id of the cheapest segment between two adjacent sites (shortest by default)."""
        matrix = self.csr()
        start, stop = matrix.indptr[a], matrix.indptr[a + 1]
        j = start + int(np.searchsorted(matrix.indices[start:stop], b))
        members = self.csr_members[self.csr_span[j] : self.csr_span[j + 1]]
        if weights is None:
            return int(members[0])
        return int(members[np.argmin(weights[members])])


@dataclass(frozen=True)
class EdgeArrays:
    """The edges of a graph being built, in insertion order; ends as node positions."""

    codes: list[str]
    src: np.ndarray
    dst: np.ndarray
    length: np.ndarray
    free: np.ndarray
    fibres: np.ndarray
    status: np.ndarray
    installation: np.ndarray
    geometry: np.ndarray
    groups: list[tuple[str, ...]]


def compile_index(
    nodes: list[str], kind: np.ndarray, xy: np.ndarray, edges: EdgeArrays
) -> GraphIndex:
    """Compile the index of a graph just built from these arrays.

    The same index as one read back from the graph (edges in the order networkx iterates
    them, each oriented as networkx yields it), without a pass over 200,000 edge dicts.
    """
    order = networkx_edge_order(edges.src, edges.dst)
    low = np.minimum(edges.src, edges.dst)[order]
    high = np.maximum(edges.src, edges.dst)[order]
    index = _assemble(
        nodes,
        [edges.codes[j] for j in order.tolist()],
        low,
        high,
        length=edges.length[order],
        free=edges.free[order],
        fibres=edges.fibres[order],
        status=edges.status[order],
        installation=edges.installation[order],
        kind=kind,
        xy=xy,
        edge_geom=edges.geometry[order],
        edge_groups=[edges.groups[j] for j in order.tolist()],
    )
    return index


def networkx_edge_order(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Insertion ids of the edges in the order ``nx.MultiGraph.edges`` yields them.

    networkx walks the nodes in order; from node ``n`` it yields the edges to neighbours
    not yet walked (end of higher position, or ``n`` itself), neighbours in the order
    they were first joined to ``n``, parallel edges in insertion order.
    """
    m = len(src)
    ids = np.arange(m)
    low, high = np.minimum(src, dst), np.maximum(src, dst)
    by_pair = np.lexsort((ids, high, low))
    new_pair = np.ones(m, dtype=bool)
    new_pair[1:] = (low[by_pair][1:] != low[by_pair][:-1]) | (
        high[by_pair][1:] != high[by_pair][:-1]
    )
    first = np.empty(m, dtype=np.int64)
    first[by_pair] = by_pair[new_pair][np.cumsum(new_pair) - 1]
    return np.lexsort((ids, first, low))


def graph_index(graph: nx.MultiGraph) -> GraphIndex:
    """The cached compiled index of ``graph`` (built on first use)."""
    index = _CACHE.get(graph)
    # graphs are immutable once built; the node count is a cheap guard against misuse
    if index is None or index.n != len(graph):
        # a graph of build_graph compiles from its build's arrays while its edges are
        # untouched (much faster than reading 200,000 edge dicts back)
        pending = getattr(graph, "compile_pending", None)
        with paused_gc():
            index = pending() if pending is not None else None
            if index is None or index.n != len(graph):
                index = _build(graph)
        _CACHE[graph] = index
    return index


def _build(graph: nx.MultiGraph) -> GraphIndex:
    nodes = list(graph.nodes)
    node_id = {code: i for i, code in enumerate(nodes)}
    data = list(graph.edges(keys=True, data=True))
    node_data = graph.nodes
    return _assemble(
        nodes,
        [str(key) for _, _, key, _ in data],
        np.fromiter((node_id[u] for u, _, _, _ in data), dtype=np.int64, count=len(data)),
        np.fromiter((node_id[v] for _, v, _, _ in data), dtype=np.int64, count=len(data)),
        length=np.fromiter(
            (d.get("length_m", 0.0) for *_, d in data), dtype=float, count=len(data)
        ),
        free=_floats(d.get("free_fibres") for *_, d in data),
        fibres=_floats(d.get("fibre_count") for *_, d in data),
        status=np.array([d.get("status") for *_, d in data], dtype=object),
        installation=np.array([d.get("installation") for *_, d in data], dtype=object),
        kind=np.array([node_data[c].get("kind", "other") for c in nodes], dtype=object),
        xy=np.array(
            [(node_data[c].get("x", math.nan), node_data[c].get("y", math.nan)) for c in nodes],
            dtype=float,
        ).reshape(-1, 2),
        edge_geom=np.array([d.get("geometry") for *_, d in data], dtype=object),
        edge_groups=[tuple(d.get("risk_groups") or ()) for *_, d in data],
    )


def _floats(values: Iterable[float | None]) -> np.ndarray:
    """Numbers with NaN for None (unknown)."""
    return np.asarray([math.nan if v is None else v for v in values], dtype=float)


def _assemble(
    nodes: list[str],
    edges: list[str],
    src: np.ndarray,
    dst: np.ndarray,
    **arrays: Any,
) -> GraphIndex:
    members: dict[str, list[int]] = {}
    for j, groups in enumerate(arrays["edge_groups"]):
        for group in groups:
            members.setdefault(group, []).append(j)
    twin = ig.Graph(n=len(nodes), edges=np.column_stack([src, dst]).tolist(), directed=False)
    twin.es["length"] = arrays["length"].tolist()
    return GraphIndex(
        nodes=nodes,
        node_id={code: i for i, code in enumerate(nodes)},
        edges=edges,
        edge_id={code: j for j, code in enumerate(edges)},
        src=src,
        dst=dst,
        group_edges={g: np.asarray(ids, dtype=np.int64) for g, ids in members.items()},
        ig=twin,
        component=np.asarray(twin.connected_components().membership, dtype=np.int64),
        **arrays,
    )
