"""Shortest and k shortest routes agree with pgRouting; pgr_KSP merges parallel segments."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import networkx as nx
import psycopg
import pytest
from psycopg import sql

from recor.network import k_shortest_paths, shortest_path
from tests.network.topology import make_graph, random_graph

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def pgr(postgis_url: str) -> Iterator[psycopg.Connection]:
    """A throwaway database with pgRouting (the migrated template is left untouched)."""
    name = f"{psycopg.conninfo.conninfo_to_dict(postgis_url)['dbname']}_pgr"
    with psycopg.connect(postgis_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = psycopg.conninfo.conninfo_to_dict(postgis_url) | {"dbname": name}
    try:
        with psycopg.connect(psycopg.conninfo.make_conninfo(**params), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pgrouting CASCADE")
            conn.execute("CREATE TABLE edges (id int, source int, target int, cost float8)")
            yield conn
    finally:
        with psycopg.connect(postgis_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _node(code: str) -> int:
    return int(code.removeprefix("S")) + 1


def _load(conn: psycopg.Connection, graph: nx.MultiGraph, ids: dict[str, int]) -> None:
    conn.execute("TRUNCATE edges")
    with conn.cursor().copy("COPY edges (id, source, target, cost) FROM STDIN") as copy:
        for j, (u, v, data) in enumerate(graph.edges(data=True), start=1):
            copy.write_row((j, ids[u], ids[v], data["length_m"]))


EDGES_SQL = "SELECT id, source, target, cost, cost AS reverse_cost FROM edges"


def _pgr_dijkstra(conn: psycopg.Connection, s: int, t: int) -> float | None:
    row = conn.execute(
        "SELECT max(agg_cost + cost) FROM pgr_dijkstra(%s, %s, %s, directed => false)",
        (EDGES_SQL, s, t),
    ).fetchone()
    return row[0] if row else None


def _pgr_ksp(conn: psycopg.Connection, s: int, t: int, k: int) -> list[float]:
    rows = conn.execute(
        "SELECT path_id, max(agg_cost + cost) FROM pgr_KSP(%s, %s, %s, %s, directed => false)"
        " GROUP BY path_id ORDER BY path_id",
        (EDGES_SQL, s, t, k),
    ).fetchall()
    return [r[1] for r in rows]


@pytest.mark.parametrize("seed", range(3))
def test_shortest_paths_agree_with_pgr_dijkstra(pgr: psycopg.Connection, seed: int) -> None:
    graph = random_graph(60, 110, seed)
    _load(pgr, graph, {n: _node(n) for n in graph})
    pairs = list(itertools.combinations(sorted(graph), 2))[seed::37]
    assert len(pairs) >= 40
    for a, b in pairs:
        expected = _pgr_dijkstra(pgr, _node(a), _node(b))
        assert shortest_path(graph, a, b).length_m == pytest.approx(expected), (a, b)


@pytest.mark.parametrize("seed", range(3))
def test_k_shortest_paths_agree_with_pgr_ksp(pgr: psycopg.Connection, seed: int) -> None:
    """Without parallel segments both enumerate the same k cheapest simple routes."""
    graph = random_graph(30, 50, seed, parallel=False)
    _load(pgr, graph, {n: _node(n) for n in graph})
    for a, b in list(itertools.combinations(sorted(graph), 2))[seed::61]:
        expected = _pgr_ksp(pgr, _node(a), _node(b), 6)
        found = [r.length_m for r in k_shortest_paths(graph, a, b, 6)]
        assert found == pytest.approx(expected), (a, b)


def test_k_shortest_keeps_parallel_segments_that_pgr_ksp_merges(pgr: psycopg.Connection) -> None:
    """A --p1(1 km)-- B --q(1 km)-- C
    A --p2(2 km)-- B                  p1 and p2: two cables between the same sites

    Two simple routes exist (p1+q, p2+q). pgr_KSP works on site sequences and returns one.
    """
    graph = make_graph(
        {"A": (0, 0), "B": (1, 0), "C": (2, 0)},
        [("p1", "A", "B", 1000), ("p2", "A", "B", 2000), ("q", "B", "C", 1000)],
    )
    ids = {"A": 1, "B": 2, "C": 3}
    _load(pgr, graph, ids)
    assert _pgr_ksp(pgr, 1, 3, 3) == [2000]
    routes = k_shortest_paths(graph, "A", "C", 3)
    assert [r.segments for r in routes] == [("p1", "q"), ("p2", "q")]
    assert [r.length_m for r in routes] == [2000, 3000]
