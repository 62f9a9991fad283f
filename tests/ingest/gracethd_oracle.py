"""GraceTHD-Check as a test oracle: the model's own PostGIS schema and the validator's SQL.

Loads the official scripts from ``../shared/data/gracethd-v2-standard/check-sql`` (GPL-3.0,
read at test time, never copied into recor) into a throwaway database, inserts a delivery's
tables into the model's schema (its constraints are the standard's list, reference, key and
type rules) and runs every operational check of GraceTHD-Check's catalogue.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

import networkx as nx
import pandas as pd
import psycopg
import shapely
from psycopg import sql

from recor.ingest import gracethd_standard as std

_MODEL = ("gracethd_10_lists.sql", "gracethd_20_insert.sql", "gracethd_30_tables.sql",
          "gracethd_61_vues_elem.sql")  # fmt: skip
_CHECK = (
    "gracethdcheck_10_lists.sql",
    "gracethdcheck_20_insert.sql",
    "gracethdcheck_30_tables.sql",
    "gracethdcheck_33_conf_insert.sql",
)


def install(conn: psycopg.Connection, standard: Path) -> None:
    """Create schemas ``gracethd`` and ``gracethdcheck`` from the official scripts."""
    conn.execute("CREATE SCHEMA gracethd; CREATE SCHEMA gracethdcheck")
    for name in (*_MODEL, *_CHECK):
        text = (standard / "check-sql" / name).read_text(encoding="utf-8-sig")
        conn.execute(text.encode())
    conn.execute("SET search_path TO gracethdcheck, gracethd, public")


def _value(value: object) -> object:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def _order() -> list[str]:
    graph = nx.DiGraph()
    for table, fields in std.fields().items():
        graph.add_node(table)
        for item in fields:
            if item.ref_table.startswith("t_") and item.ref_table != table:
                graph.add_edge(item.ref_table, table)
    return list(nx.lexicographical_topological_sort(graph))


def load(conn: psycopg.Connection, tables: Mapping[str, pd.DataFrame]) -> None:
    """Insert tables into the model's schema, referenced tables first (constraints apply)."""
    for table in _order():
        frame = tables.get(table)
        if frame is None or not len(frame):
            continue
        fields = [f for f in std.fields()[table] if f.name in frame or f.is_geometry]
        names = [f.name for f in fields]
        marks = [
            sql.SQL("ST_Multi(ST_GeomFromWKB(%s, 2154))" if f.type == "MultiPolygon"
                    else "ST_GeomFromWKB(%s, 2154)") if f.is_geometry else sql.Placeholder()
            for f in fields
        ]  # fmt: skip
        query = sql.SQL("INSERT INTO gracethd.{} ({}) VALUES ({})").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, names)),
            sql.SQL(", ").join(marks),
        )  # fmt: skip
        rows = []
        for record in frame.to_dict("records"):
            rows.append([
                shapely.to_wkb(record["geometry"]) if f.is_geometry else _value(record.get(f.name))
                for f in fields
            ])  # fmt: skip
        conn.cursor().executemany(query, rows)


def _rows(standard: Path, name: str) -> list[dict[str, str]]:
    path = standard / "check-conf" / name
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def run_checks(conn: psycopg.Connection, standard: Path) -> dict[str, int]:
    """Rows returned by each operational check (``ct_pgs_statut`` > 2), by check code."""
    counts = {}
    for row in _rows(standard, "t_ct_code_pgs_psql.csv"):
        if int(row["ct_pgs_statut"] or 0) <= 2:
            continue
        with conn.transaction():
            counts[row["ct_pgs_code"]] = len(conn.execute(row["ct_pgs_script"].encode()).fetchall())
    return counts


def verdict(counts: Mapping[str, int], standard: Path, phase: str) -> set[str]:
    """Checks that fail and that GraceTHD-Check reports at ``phase`` (its ``O`` grid)."""
    column = std.phase_column(phase)
    grid = {
        r["attunique"]: r[column].strip() for r in _rows(standard, "t_ct_conf_fillatt_psql.csv")
    }
    unique = {r["ct_code"]: r["ct_attunique"] for r in _rows(standard, "t_ct_cat_psql.csv")}
    return {code for code, n in counts.items() if n and grid.get(unique.get(code, "")) == "O"}
