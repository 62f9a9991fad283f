"""GraceTHD tables kept with their import batch (migration 0006): write and read back.

A delivered table is stored whole, as a new version, only when its content differs from the
table's current version (a digest of its rows), so re-importing a delivery stores nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import geopandas as gpd
import pandas as pd
import psycopg
import shapely

from recor.config import STORAGE_CRS
from recor.registry.model import EntityCounts

__all__ = ["read_gracethd_tables", "store_gracethd_tables"]


def _records(frame: pd.DataFrame) -> tuple[list[str], list[bytes | None]]:
    columns = [c for c in frame.columns if c != "geometry"]
    values = frame[columns].astype(object).where(frame[columns].notna(), None)
    rows = [
        json.dumps({k: _plain(v) for k, v in row.items()}, sort_keys=True, ensure_ascii=False)
        for row in values.to_dict("records")
    ]
    geoms: list[bytes | None] = [None] * len(frame)
    if "geometry" in frame:
        geoms = [
            None if g is None or g.is_empty else shapely.to_wkb(g, hex=False)
            for g in frame["geometry"].to_numpy()
        ]
    return rows, geoms


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _digest(rows: list[str], geoms: list[bytes | None]) -> str:
    hasher = hashlib.sha256()
    for row, geom in zip(rows, geoms, strict=True):
        hasher.update(row.encode())
        hasher.update(shapely.to_wkb(shapely.from_wkb(geom), hex=True).encode() if geom else b"-")
    return hasher.hexdigest()


def store_gracethd_tables(
    conn: psycopg.Connection, batch_id: int, tables: Mapping[str, pd.DataFrame]
) -> EntityCounts:
    """Store each delivered table that differs from its current version, in the open batch.

    Returns counts of tables ``added`` (first version) and ``changed`` (new version).
    """
    counts = EntityCounts()
    current = dict(
        conn.execute(
            "SELECT DISTINCT ON (v.table_name) v.table_name, v.digest"
            " FROM recor.gracethd_table_versions v"
            " JOIN recor.import_batches b ON b.id = v.batch_id WHERE b.undone_by IS NULL"
            " ORDER BY v.table_name, v.batch_id DESC"
        ).fetchall()
    )
    for name, frame in tables.items():
        rows, geoms = _records(frame)
        digest = _digest(rows, geoms)
        if current.get(name) == digest:
            continue
        conn.execute(
            "INSERT INTO recor.gracethd_table_versions (batch_id, table_name, digest, row_count)"
            " VALUES (%s, %s, %s, %s)",
            (batch_id, name, digest, len(rows)),
        )
        with conn.cursor().copy(
            "COPY recor.gracethd_rows (batch_id, table_name, row_number, attributes, geom)"
            " FROM STDIN"
        ) as copy:
            for number, (row, geom) in enumerate(zip(rows, geoms, strict=True)):
                ewkb = None if geom is None else _ewkb(geom)
                copy.write_row((batch_id, name, number, row, ewkb))
        if name in current:
            counts.changed.append(name)
        else:
            counts.added.append(name)
    return counts


def _ewkb(wkb: bytes) -> str:
    geometry = shapely.set_srid(shapely.from_wkb(wkb), STORAGE_CRS)
    return shapely.to_wkb(geometry, hex=True, include_srid=True)


def read_gracethd_tables(
    conn: psycopg.Connection, *, as_of: datetime | None = None
) -> dict[str, pd.DataFrame]:
    """The current version of every kept table (as of a past time when given), by name.

    A version made by a batch that was undone (before ``as_of``) no longer counts.

    Values are text as delivered (None when empty); spatial tables are GeoDataFrames in
    EPSG:2154 with their geometry in ``geometry``.
    """
    versions = conn.execute(
        "SELECT DISTINCT ON (v.table_name) v.table_name, v.batch_id"
        " FROM recor.gracethd_table_versions v JOIN recor.import_batches b ON b.id = v.batch_id"
        " LEFT JOIN recor.import_batches u ON u.id = b.undone_by"
        " WHERE (%(as_of)s::timestamptz IS NULL OR b.started_at <= %(as_of)s::timestamptz)"
        "   AND (u.id IS NULL OR u.started_at > %(as_of)s::timestamptz)"
        " ORDER BY v.table_name, v.batch_id DESC",
        {"as_of": as_of},
    ).fetchall()
    out: dict[str, pd.DataFrame] = {}
    for name, batch_id in versions:
        rows = conn.execute(
            "SELECT attributes, ST_AsBinary(geom) FROM recor.gracethd_rows"
            " WHERE batch_id = %s AND table_name = %s ORDER BY row_number",
            (batch_id, name),
        ).fetchall()
        frame = pd.DataFrame([r[0] for r in rows])
        geoms = [None if r[1] is None else shapely.from_wkb(bytes(r[1])) for r in rows]
        if any(g is not None for g in geoms):
            frame = gpd.GeoDataFrame(frame, geometry=geoms, crs=STORAGE_CRS)
        out[name] = frame
    return out
