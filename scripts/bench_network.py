"""Benchmark of recor.network on the generated 200,000-segment network (not a test).

Measures, in one run: graph build time; median latency of random shortest-path queries
through the public API next to pgRouting's ``pgr_dijkstra`` (one call per query, and one
many-to-many call), ``scipy.sparse.csgraph.dijkstra`` single-source and igraph on the same
graph; the full redundancy report. Every recor answer is checked against scipy's.
Heavy queries on a few random pairs: k shortest routes (k=3) next to igraph's compiled
``get_k_shortest_paths`` (same k costs required) and the diverse pair at each level; the
worst 5 km disk next to the naive search (its exact evaluations, each relabelling the
whole network).

With the registry (default; ``--no-registry`` skips it): the network is loaded into a
throwaway registry, then ``registry.snapshot`` is timed next to a plain binary ``COPY``
of the same rows and columns (bytes only, no decoding), and the network commands run as
child processes, cold (process start, snapshot, graph, answer), next to a child that
starts Python, imports the CLI and copies the same rows. Every figure: wall seconds, CPU
seconds (user + system, what load affects least) and peak memory for the children.

Usage::

    .venv/bin/python scripts/bench_network.py [--segments 200000] [--queries 100]
        [--admin-url "host=127.0.0.1 user=postgres dbname=postgres"] [--no-pgrouting]
        [--no-registry] [--heavy-queries 5] [--repeats 3] [--json bench.json]

pgRouting and the registry run in throwaway databases created and dropped by the script.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import networkx as nx
import numpy as np
import psycopg
from psycopg import sql
from scipy.sparse.csgraph import dijkstra

from recor import registry
from recor.cli import main as recor_main
from recor.network import (
    DISJOINTNESS,
    core_sites,
    diverse_pair,
    graph_from_delivery,
    k_shortest_paths,
    redundancy_report,
    shortest_path,
    worst_disk_failure,
)
from recor.network._index import GraphIndex, graph_index
from recor.network._structure import core_reach
from recor.registry import BatchInfo, Delivery
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
    parser.add_argument("--no-registry", action="store_true", help="skip snapshot and CLI runs")
    parser.add_argument("--heavy-queries", type=int, default=5, help="k-shortest/diverse pairs")
    parser.add_argument(
        "--repeats", type=int, default=1, help="snapshot reads and cold commands: median of N"
    )
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    figures: dict[str, float | int | str] = {"segments": args.segments}
    figures["date"] = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    figures["machine"] = f"{platform.node()}, {os.cpu_count()} cores"
    figures["load_average_start"] = round(os.getloadavg()[0], 1)

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

    # the benchmark's own heap (graph, delivery) is not what the measured code allocates:
    # keep the cyclic collector from scanning it again and again
    gc.collect()
    gc.freeze()
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
    figures |= _worst_disk(graph, index)

    clock = time.perf_counter()
    report = redundancy_report(graph)
    figures["redundancy_report_s"] = time.perf_counter() - clock
    for step, seconds in report.timings_s.items():
        figures[f"redundancy_{step}_s"] = seconds
    figures["single_homed_sites"] = len(report.single_homed)
    figures["bridges"] = len(report.bridges)
    if not args.no_registry:
        figures |= _registry(args.admin_url, delivery, pairs[0], args.repeats)
    figures["load_average_end"] = round(os.getloadavg()[0], 1)
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
    recor_k, igraph_k, recor_k_cpu = [], [], []
    diverse: dict[str, list[float]] = {level: [] for level in DISJOINTNESS}
    diverse_cpu: dict[str, list[float]] = {level: [] for level in DISJOINTNESS}
    for a, b in pairs:
        clock, cpu = time.perf_counter(), time.process_time()
        routes = k_shortest_paths(graph, a, b, 3)
        recor_k.append(time.perf_counter() - clock)
        recor_k_cpu.append(time.process_time() - cpu)
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
            clock, cpu = time.perf_counter(), time.process_time()
            diverse_pair(graph, a, b, disjointness=level)
            diverse[level].append(time.perf_counter() - clock)
            diverse_cpu[level].append(time.process_time() - cpu)
    figures = {
        "k_shortest_3_s": statistics.median(recor_k),
        "k_shortest_3_cpu_s": statistics.median(recor_k_cpu),
        "igraph_k_shortest_3_s": statistics.median(igraph_k),
    }
    figures |= {f"diverse_{level}_s": statistics.median(t) for level, t in diverse.items()}
    figures |= {f"diverse_{level}_cpu_s": statistics.median(t) for level, t in diverse_cpu.items()}
    # the goal holds for every pair, the first one (cold caches) included
    figures |= {f"diverse_{level}_max_s": max(t) for level, t in diverse.items()}
    figures |= {f"diverse_{level}_max_cpu_s": max(t) for level, t in diverse_cpu.items()}
    figures |= {f"diverse_{level}_first_s": t[0] for level, t in diverse.items()}
    return figures


def _worst_disk(graph: nx.MultiGraph, index: GraphIndex) -> dict:
    """Worst 5 km disk (every status) next to the naive search: the same exact evaluations,
    each relabelling the whole network (one relabelling timed, times the evaluations)."""
    clock, cpu = time.perf_counter(), time.process_time()
    worst = worst_disk_failure(graph, 5000)
    seconds, cpu_s = time.perf_counter() - clock, time.process_time() - cpu
    if not worst.proven_optimal:
        raise AssertionError(f"worst disk not proven optimal: {worst.value} < {worst.upper_bound}")
    core = np.asarray([index.node_id[c] for c in core_sites(graph)], dtype=np.int64)
    dead_e = np.asarray([index.edge_id[c] for c in worst.segments_hit], dtype=np.int64)
    clock = time.perf_counter()
    core_reach(index, core, dead_e, np.empty(0, dtype=np.int64))
    naive = (time.perf_counter() - clock) * worst.evaluations
    return {
        "worst_disk_5km_s": seconds,
        "worst_disk_5km_cpu_s": cpu_s,
        "worst_disk_evaluations": worst.evaluations,
        "worst_disk_sites_lost": worst.value,
        "naive_disk_search_estimate_s": naive,
    }


#: Columns of the reference COPY: those ``registry.snapshot`` reads, as stored.
_COPY_SITES = (
    "COPY (SELECT id, code, name, kind, operator, status, source, extra, valid_from,"
    " batch_id, ST_AsBinary(geom) FROM recor.sites WHERE NOT retired ORDER BY code)"
    " TO STDOUT (FORMAT BINARY)"
)
_COPY_SEGMENTS = (
    "COPY (SELECT g.id, g.code, a.code, b.code, g.length_m, g.fibre_count, g.fibres_used,"
    " g.cable_type, g.installation, g.status, g.owner, g.operator, g.commissioned_on,"
    " g.source, g.extra, g.valid_from, g.batch_id, ST_AsBinary(g.geom) FROM recor.segments g"
    " JOIN recor.sites a ON a.id = g.site_a JOIN recor.sites b ON b.id = g.site_b"
    " WHERE NOT g.retired ORDER BY g.code) TO STDOUT (FORMAT BINARY)"
)

#: The reference child of the cold commands: start, import the CLI, copy the same rows.
_COPY_CHILD = (
    "import psycopg, recor.cli\n"
    "with psycopg.connect() as conn:\n"
    "    for q in {queries!r}:\n"
    "        with conn.cursor().copy(q) as copy:\n"
    "            sum(len(b) for b in copy)\n"
)


def _registry(admin_url: str, delivery: Delivery, pair: tuple[str, str], repeats: int = 1) -> dict:
    """Snapshot read next to a plain binary COPY; cold CLI runs next to a COPY child.

    With ``repeats``, every read and child runs that many times, round after round:
    medians, with the fastest and slowest beside (``_min_s``, ``_max_s``)."""
    figures: dict[str, float | int | str] = {}
    with _throwaway_db(admin_url) as conn:
        info = conn.info
        url = f"postgresql://{info.user}@{info.host}:{info.port}/{info.dbname}"
        assert recor_main(["--database-url", url, "db", "init"]) == 0
        with registry.connect(url, autocommit=True) as reg:
            registry.load_delivery(reg, delivery, BatchInfo(profile="benchmark"))
            reads = {
                "copy_reference": lambda: _copy_bytes(reg),
                "snapshot": lambda: registry.snapshot(reg),
                "snapshot_graph_columns": lambda: registry.snapshot(
                    reg, references=False, detail=False
                ),
            }
            timed: dict[str, list[tuple[float, float]]] = {label: [] for label in reads}
            for _ in range(repeats):
                for label, run in reads.items():
                    clock, cpu = time.perf_counter(), time.process_time()
                    run()
                    timed[label].append((time.perf_counter() - clock, time.process_time() - cpu))
            for label, runs in timed.items():
                figures |= _spread(label, [wall for wall, _ in runs])
                figures[f"{label}_cpu_s"] = statistics.median(cpu for _, cpu in runs)
        env = {**os.environ, "RECOR_DATABASE_URL": url, "PGDATABASE": info.dbname}
        env |= {"PGHOST": info.host, "PGUSER": info.user, "PGPORT": str(info.port)}
        recor = [sys.executable, "-m", "recor"]
        queries = (_COPY_SITES, _COPY_SEGMENTS)
        runs = {
            "reference_child": [sys.executable, "-c", _COPY_CHILD.format(queries=queries)],
            "route": [*recor, "route", *pair, "--all-statuses"],
            "route_k3": [*recor, "route", *pair, "--k", "3", "--all-statuses"],
            "diverse_srlg": [*recor, "diverse", *pair, "--all-statuses"],
            "redundancy": [*recor, "redundancy", "--all-statuses"],
            "whatif_worst_disk_5km": [*recor, "whatif", "--worst-disk", "5000", "--all-statuses"],
        }
        children: dict[str, list[tuple[float, float, float]]] = {label: [] for label in runs}
        for _ in range(repeats):
            for label, argv in runs.items():
                children[label].append(_child(argv, env))
        for label, measured in children.items():
            figures |= _spread(f"cli_{label}", [wall for wall, _, _ in measured])
            figures[f"cli_{label}_cpu_s"] = statistics.median(cpu for _, cpu, _ in measured)
            figures[f"cli_{label}_peak_mb"] = max(peak for _, _, peak in measured)
    return figures


def _spread(label: str, walls: list[float]) -> dict[str, float]:
    """Median wall seconds, with the fastest and the slowest run when there are several."""
    figures = {f"{label}_s": statistics.median(walls)}
    if len(walls) > 1:
        figures |= {f"{label}_min_s": min(walls), f"{label}_max_s": max(walls)}
    return figures


def _copy_bytes(conn: psycopg.Connection) -> int:
    total = 0
    for query in (_COPY_SITES, _COPY_SEGMENTS):
        with conn.cursor().copy(query) as copy:
            total += sum(len(block) for block in copy)
    return total


def _child(argv: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak resident MB of a child.

    The peak comes from GNU time: a child forked straight from this process would count
    this process's own memory in its high-water mark.
    """
    clock = time.perf_counter()
    child = subprocess.run(
        ["/usr/bin/time", "-f", "%U %S %M", *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    wall = time.perf_counter() - clock
    report = child.stderr.decode(errors="replace")
    if child.returncode:
        raise SystemExit(f"{argv}: {report}")
    user, system, peak_kb = report.strip().splitlines()[-1].split()
    return wall, float(user) + float(system), int(peak_kb) / 1024


def _print(figures: dict[str, float | int | str]) -> None:
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        shown = f"{value:,.2f}" if isinstance(value, float) else str(value)
        print(f"{key:<{width}}  {shown}")
    recor = figures["recor_query_ms"]
    if "pgrouting_query_ms" in figures:
        print(f"speed-up vs pgr_dijkstra per query: {figures['pgrouting_query_ms'] / recor:.1f}x")
    print(f"ratio to scipy single-source: {recor / figures['scipy_single_source_ms']:.2f}x")
    k3, igraph_k3 = figures["k_shortest_3_s"], figures["igraph_k_shortest_3_s"]
    print(f"k shortest (k=3): {igraph_k3 / k3:.1f}x faster than igraph's")
    naive = figures["naive_disk_search_estimate_s"]
    print(f"worst disk: {naive / figures['worst_disk_5km_s']:.1f}x faster than the naive search")
    if "snapshot_s" in figures:
        for label in ("snapshot", "snapshot_graph_columns"):
            wall = figures[f"{label}_s"] / figures["copy_reference_s"]
            cpu = figures[f"{label}_cpu_s"] / max(figures["copy_reference_cpu_s"], 1e-3)
            print(f"{label}: {wall:.2f}x the plain binary COPY's wall time ({cpu:.1f}x its CPU)")
        reference = figures["cli_reference_child_s"]
        reference_cpu = figures["cli_reference_child_cpu_s"]
        for label in ("route", "route_k3", "diverse_srlg", "redundancy", "whatif_worst_disk_5km"):
            wall, cpu = figures[f"cli_{label}_s"], figures[f"cli_{label}_cpu_s"]
            print(
                f"recor {label} cold: {wall / reference:.2f}x the start+import+COPY child"
                f" (CPU {cpu / reference_cpu:.2f}x)"
            )


if __name__ == "__main__":
    main()
