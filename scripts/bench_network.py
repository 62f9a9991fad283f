"""Benchmark of recor.network on the generated 200,000-segment network (not a test).

Measures, in one run: graph build time; median latency of random shortest-path queries
through the public API next to pgRouting's ``pgr_dijkstra`` (one call per query, and one
many-to-many call), ``scipy.sparse.csgraph.dijkstra`` single-source and igraph on the same
graph; the full redundancy report. Every recor answer is checked against scipy's.
Heavy queries on a few random pairs: k shortest routes (k=3) next to igraph's compiled
``get_k_shortest_paths`` (same k costs required) and the diverse pair at each level.

Usage::

    .venv/bin/python scripts/bench_network.py [--segments 200000] [--queries 100]
        [--admin-url "host=127.0.0.1 user=postgres dbname=postgres"] [--no-pgrouting]
        [--heavy-queries 5] [--json bench.json]

pgRouting runs in a throwaway database created and dropped by the script (the edge table is
copied straight from the generated network; the registry is not involved).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import networkx as nx
import numpy as np
import psycopg
from psycopg import sql
from scipy.sparse.csgraph import dijkstra

from recor.network import (
    DISJOINTNESS,
    diverse_pair,
    graph_from_delivery,
    k_shortest_paths,
    redundancy_report,
    shortest_path,
)
from recor.network._index import GraphIndex, graph_index
from recor.sample import build_sample


def main() -> None:
    """Run the benchmark and print a table of figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--nx-queries", type=int, default=10, help="networkx reference (slow)")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get(
            "RECOR_BENCH_ADMIN_URL", "host=127.0.0.1 user=postgres dbname=postgres"
        ),
    )
    parser.add_argument("--no-pgrouting", action="store_true")
    parser.add_argument("--heavy-queries", type=int, default=5, help="k-shortest/diverse pairs")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    figures: dict[str, float | int | str] = {"segments": args.segments}

    clock = time.perf_counter()
    delivery = build_sample(segments=args.segments)
    figures["sample_generation_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    graph = graph_from_delivery(delivery, statuses=None)
    figures["graph_build_s"] = time.perf_counter() - clock
    clock = time.perf_counter()
    index = graph_index(graph)
    index.csr()
    figures["index_build_s"] = time.perf_counter() - clock
    figures["sites"], figures["edges"] = graph.number_of_nodes(), index.m

    pairs = _pairs(graph, index, args.queries)
    reference = {}
    scipy_ms = _median_ms(pairs, lambda a, b: reference.__setitem__((a, b), _scipy(index, a, b)))
    recor_ms = _median_ms(pairs, lambda a, b: _check(graph, reference, a, b))
    igraph_ms = _median_ms(
        pairs,
        lambda a, b: index.ig.get_shortest_path(
            index.node_id[a], index.node_id[b], weights="length", output="epath"
        ),
    )
    figures |= {"recor_query_ms": recor_ms, "scipy_single_source_ms": scipy_ms}
    figures["igraph_query_ms"] = igraph_ms
    if args.nx_queries:
        simple = _simple(graph)
        figures["networkx_bidirectional_ms"] = _median_ms(
            pairs[: args.nx_queries],
            lambda a, b: nx.bidirectional_dijkstra(simple, a, b, weight="length_m"),
        )
    if not args.no_pgrouting:
        figures |= _pgrouting(args.admin_url, graph, index, pairs, reference)

    figures |= _heavy(graph, index, pairs[: args.heavy_queries])

    clock = time.perf_counter()
    report = redundancy_report(graph)
    figures["redundancy_report_s"] = time.perf_counter() - clock
    for step, seconds in report.timings_s.items():
        figures[f"redundancy_{step}_s"] = seconds
    figures["single_homed_sites"] = len(report.single_homed)
    figures["bridges"] = len(report.bridges)
    _print(figures)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(figures, out, indent=2)


def _pairs(graph: nx.MultiGraph, index: GraphIndex, count: int) -> list[tuple[str, str]]:
    rng = random.Random(2154)
    giant = np.flatnonzero(index.component == np.bincount(index.component).argmax())
    codes = [index.nodes[v] for v in giant]
    return [tuple(rng.sample(codes, 2)) for _ in range(count)]  # type: ignore[misc]


def _scipy(index: GraphIndex, a: str, b: str) -> float:
    dist = dijkstra(index.csr(), indices=index.node_id[a])
    return float(dist[index.node_id[b]])


def _check(graph: nx.MultiGraph, reference: dict, a: str, b: str) -> None:
    length = shortest_path(graph, a, b).length_m
    if abs(length - reference[(a, b)]) > 1e-6 * max(length, 1.0):
        raise AssertionError(f"{a}->{b}: recor {length} m, scipy {reference[(a, b)]} m")


def _median_ms(pairs: list[tuple[str, str]], query: Callable[[str, str], object]) -> float:
    times = []
    for a, b in pairs:
        clock = time.perf_counter()
        query(a, b)
        times.append(time.perf_counter() - clock)
    return statistics.median(times) * 1000


def _simple(graph: nx.MultiGraph) -> nx.Graph:
    simple = nx.Graph()
    for u, v, length in graph.edges(data="length_m"):
        if not simple.has_edge(u, v) or simple[u][v]["length_m"] > length:
            simple.add_edge(u, v, length_m=length)
    return simple


@contextmanager
def _throwaway_db(admin_url: str) -> Iterator[psycopg.Connection]:
    name = f"recor_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = psycopg.conninfo.conninfo_to_dict(admin_url) | {"dbname": name}
    try:
        with psycopg.connect(psycopg.conninfo.make_conninfo(**params), autocommit=True) as conn:
            yield conn
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


EDGES_SQL = "SELECT id, source, target, cost, cost AS reverse_cost FROM edges"


def _pgrouting(
    admin_url: str,
    graph: nx.MultiGraph,
    index: GraphIndex,
    pairs: list[tuple[str, str]],
    reference: dict,
) -> dict[str, float]:
    with _throwaway_db(admin_url) as conn:
        conn.execute("CREATE EXTENSION pgrouting CASCADE")
        conn.execute("CREATE TABLE edges (id int, source int, target int, cost float8)")
        with conn.cursor().copy("COPY edges (id, source, target, cost) FROM STDIN") as copy:
            for j in range(index.m):
                copy.write_row(
                    (j + 1, int(index.src[j]) + 1, int(index.dst[j]) + 1, index.length[j])
                )
        conn.execute("ANALYZE edges")

        def one(a: str, b: str) -> None:
            row = conn.execute(
                "SELECT max(agg_cost + cost) FROM pgr_dijkstra(%s, %s, %s, directed => false)",
                (EDGES_SQL, index.node_id[a] + 1, index.node_id[b] + 1),
            ).fetchone()
            if row is None or abs(row[0] - reference[(a, b)]) > 1e-6 * row[0]:
                raise AssertionError(f"{a}->{b}: pgRouting {row}, scipy {reference[(a, b)]}")

        per_query = _median_ms(pairs, one)
        conn.execute("CREATE TABLE pairs (source int, target int)")
        with conn.cursor().copy("COPY pairs FROM STDIN") as copy:
            for a, b in pairs:
                copy.write_row((index.node_id[a] + 1, index.node_id[b] + 1))
        clock = time.perf_counter()
        conn.execute(
            "SELECT count(*) FROM pgr_dijkstra(%s, 'SELECT source, target FROM pairs',"
            " directed => false)",
            (EDGES_SQL,),
        ).fetchone()
        many = (time.perf_counter() - clock) * 1000 / len(pairs)
    return {"pgrouting_query_ms": per_query, "pgrouting_many_to_many_ms_per_pair": many}


def _heavy(graph: nx.MultiGraph, index: GraphIndex, pairs: list[tuple[str, str]]) -> dict:
    """k shortest (k=3) vs igraph, checked equal; diverse pairs per level (median seconds)."""
    recor_k, igraph_k = [], []
    diverse: dict[str, list[float]] = {level: [] for level in DISJOINTNESS}
    for a, b in pairs:
        clock = time.perf_counter()
        routes = k_shortest_paths(graph, a, b, 3)
        recor_k.append(time.perf_counter() - clock)
        clock = time.perf_counter()
        reference = index.ig.get_k_shortest_paths(
            index.node_id[a], index.node_id[b], k=3, weights="length", output="epath"
        )
        igraph_k.append(time.perf_counter() - clock)
        expected = [float(index.length[path].sum()) for path in reference]
        got = [r.length_m for r in routes]
        if not np.allclose(got, expected, rtol=1e-9, atol=1e-6):
            raise AssertionError(f"{a}->{b}: recor k=3 {got} m, igraph {expected} m")
        for level in DISJOINTNESS:
            clock = time.perf_counter()
            diverse_pair(graph, a, b, disjointness=level)
            diverse[level].append(time.perf_counter() - clock)
    figures = {
        "k_shortest_3_s": statistics.median(recor_k),
        "igraph_k_shortest_3_s": statistics.median(igraph_k),
    }
    figures |= {f"diverse_{level}_s": statistics.median(t) for level, t in diverse.items()}
    return figures


def _print(figures: dict[str, float | int | str]) -> None:
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        shown = f"{value:,.2f}" if isinstance(value, float) else str(value)
        print(f"{key:<{width}}  {shown}")
    recor = figures["recor_query_ms"]
    if "pgrouting_query_ms" in figures:
        print(f"speed-up vs pgr_dijkstra per query: {figures['pgrouting_query_ms'] / recor:.1f}x")
    print(f"ratio to scipy single-source: {recor / figures['scipy_single_source_ms']:.2f}x")


if __name__ == "__main__":
    main()
