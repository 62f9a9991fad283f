"""Helpers for registry tests: raw SQL inside a batch, as any client could send it."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from recor.registry import BatchInfo, LoadSummary
from recor.registry.batch import batch_transaction, finish_batch

ORLEANS = (619_000.0, 6_754_000.0)
BLOIS = (573_000.0, 6_725_000.0)


def run_in_batch(conn: psycopg.Connection, *statements: str) -> None:
    """Execute statements in one batch transaction (the way every change must happen)."""
    with batch_transaction(conn, BatchInfo(note="test")) as batch_id:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]
        finish_batch(conn, batch_id, LoadSummary(batch_id, dry_run=False), outcome="loaded")


@pytest.fixture
def two_sites(conn: psycopg.Connection) -> Callable[..., None]:
    """Insert sites A (Orléans) and B (Blois); return the raw-batch runner."""
    run_in_batch(
        conn,
        "INSERT INTO recor.sites (code, kind, status, geom) VALUES"
        f" ('A', 'pop', 'in_service', 'SRID=2154;POINT({ORLEANS[0]} {ORLEANS[1]})'),"
        f" ('B', 'pop', 'in_service', 'SRID=2154;POINT({BLOIS[0]} {BLOIS[1]})')",
    )
    return lambda *s: run_in_batch(conn, *s)


def segment_sql(code: str = "S1", *, geom: str | None = None, extra: str = "") -> str:
    """An INSERT of a segment from A to B, with optional overrides."""
    line = geom or f"SRID=2154;LINESTRING({ORLEANS[0]} {ORLEANS[1]}, {BLOIS[0]} {BLOIS[1]})"
    columns = "code, site_a, site_b, status, geom" + (", " + extra.split("=")[0] if extra else "")
    values = (
        f"'{code}', (SELECT id FROM recor.sites WHERE code = 'A'),"
        f" (SELECT id FROM recor.sites WHERE code = 'B'), 'in_service', '{line}'"
        + (", " + extra.split("=", 1)[1] if extra else "")
    )
    return f"INSERT INTO recor.segments ({columns}) VALUES ({values})"
