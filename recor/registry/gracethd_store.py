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
import numpy as np
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


def _digest(rows: list[str], geoms: list[bytes | None], code_prefix: str = "") -> str:
    hasher = hashlib.sha256()
    if code_prefix:  # the same rows under another namespace are another version
        hasher.update(f"code_prefix={code_prefix}\n".encode())
    for row, geom in zip(rows, geoms, strict=True):
        hasher.update(row.encode())
        hasher.update(shapely.to_wkb(shapely.from_wkb(geom), hex=True).encode() if geom else b"-")
    return hasher.hexdigest()


def _same_within(
    conn: psycopg.Connection, batch_id: int, name: str, rows: list[str], geoms: list[bytes | None]
) -> bool:
    """True when the stored version has the same values and geometries within the registry's
    tolerance (0004: a round trip through a file moves vertices by micrometres)."""
    stored = conn.execute(
        "SELECT attributes::text, ST_AsBinary(geom) FROM recor.gracethd_rows"
        " WHERE batch_id = %s AND table_name = %s ORDER BY row_number",
        (batch_id, name),
    ).fetchall()
    if len(stored) != len(rows):
        return False
    if [json.loads(a) for a, _ in stored] != [json.loads(r) for r in rows]:
        return False
    tolerance = conn.execute(
        "SELECT value::double precision FROM recor.registry_settings"
        " WHERE key = 'geometry_tolerance_m'"
    ).fetchone()
    old = shapely.from_wkb([None if g is None else bytes(g) for _, g in stored])
    new = shapely.from_wkb(geoms)
    if not np.array_equal(shapely.is_missing(old), shapely.is_missing(new)):
        return False
    both = ~shapely.is_missing(old)
    if not both.any():
        return True
    same_shape = (shapely.get_type_id(old[both]) == shapely.get_type_id(new[both])) & (
        shapely.get_num_coordinates(old[both]) == shapely.get_num_coordinates(new[both])
    )
    if not same_shape.all():
        return False
    limit = tolerance[0] if tolerance else 0.0
    return bool((shapely.hausdorff_distance(old[both], new[both]) <= limit).all())


def store_gracethd_tables(
    conn: psycopg.Connection, batch_id: int, tables: Mapping[str, pd.DataFrame]
) -> EntityCounts:
    """Store each delivered table that differs from its current version, in the open batch.

    A frame's ``attrs["code_prefix"]`` (the import profile's ``code_prefix``, put in front of
    the registry codes made from this table) is kept with the version, so that an export can
    match registry codes to the delivered ones.

    Returns counts of tables ``added`` (first version), ``changed`` (new version) and
    ``unchanged``.
    """
    counts = EntityCounts()
    current = {
        name: (digest, batch, prefix)
        for name, digest, batch, prefix in conn.execute(
            "SELECT DISTINCT ON (v.table_name) v.table_name, v.digest, v.batch_id, v.code_prefix"
            " FROM recor.gracethd_table_versions v"
            " JOIN recor.import_batches b ON b.id = v.batch_id WHERE b.undone_by IS NULL"
            " ORDER BY v.table_name, v.batch_id DESC"
        ).fetchall()
    }
    for name, frame in tables.items():
        rows, geoms = _records(frame)
        prefix = str(frame.attrs.get("code_prefix") or "")
        digest = _digest(rows, geoms, prefix)
        if name in current and (
            current[name][0] == digest
            or (
                current[name][2] == prefix
                and _same_within(conn, current[name][1], name, rows, geoms)
            )
        ):
            counts.unchanged += 1
            continue
        conn.execute(
            "INSERT INTO recor.gracethd_table_versions"
            " (batch_id, table_name, digest, row_count, code_prefix) VALUES (%s, %s, %s, %s, %s)",
            (batch_id, name, digest, len(rows), prefix),
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
    EPSG:2154 with their geometry in ``geometry``. ``attrs["code_prefix"]`` is the prefix the
    import put in front of the registry codes made from the table ("" when none).
    """
    versions = conn.execute(
        "SELECT DISTINCT ON (v.table_name) v.table_name, v.batch_id, v.code_prefix"
        " FROM recor.gracethd_table_versions v JOIN recor.import_batches b ON b.id = v.batch_id"
        " LEFT JOIN recor.import_batches u ON u.id = b.undone_by"
        " WHERE (%(as_of)s::timestamptz IS NULL OR b.started_at <= %(as_of)s::timestamptz)"
        "   AND (u.id IS NULL OR u.started_at > %(as_of)s::timestamptz)"
        " ORDER BY v.table_name, v.batch_id DESC",
        {"as_of": as_of},
    ).fetchall()
    out: dict[str, pd.DataFrame] = {}
    for name, batch_id, prefix in versions:
        rows = conn.execute(
            "SELECT attributes, ST_AsBinary(geom) FROM recor.gracethd_rows"
            " WHERE batch_id = %s AND table_name = %s ORDER BY row_number",
            (batch_id, name),
        ).fetchall()
        frame = pd.DataFrame([r[0] for r in rows])
        geoms = [None if r[1] is None else shapely.from_wkb(bytes(r[1])) for r in rows]
        if any(g is not None for g in geoms):
            frame = gpd.GeoDataFrame(frame, geometry=geoms, crs=STORAGE_CRS)
        frame.attrs["code_prefix"] = prefix
        out[name] = frame
    return out
