"""Read the registry as GeoDataFrames: now, or as of any past time."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import geopandas as gpd
import pandas as pd
import psycopg
import shapely
from psycopg import sql

from recor.config import STORAGE_CRS
from recor.domain import RISK_GROUP_COLUMNS, SEGMENT_COLUMNS, SITE_COLUMNS
from recor.registry.model import RegistryVersion

__all__ = [
    "read_codes",
    "read_risk_groups",
    "read_segments",
    "read_sites",
    "registry_generation",
    "registry_version",
]

_SITE_FIELDS = ("id", *SITE_COLUMNS)
_SEGMENT_FIELDS = ("id", *SEGMENT_COLUMNS[:3], "length_m", *SEGMENT_COLUMNS[3:])
_RISK_FIELDS = ("id", *RISK_GROUP_COLUMNS)
_LINK_FIELDS = ("segment_id", "risk_group_id")

Bbox = tuple[float, float, float, float]


def _versions(table: str, fields: Iterable[str], as_of: datetime | None) -> sql.Composed:
    """Rows of ``table`` that are active now, or were active at ``as_of``."""
    cols = sql.SQL(", ").join(
        sql.Identifier(f) for f in (*fields, "valid_from", "batch_id", "retired")
    )
    if as_of is None:
        return sql.SQL("(SELECT {cols} FROM recor.{t} WHERE NOT retired)").format(
            cols=cols, t=sql.Identifier(table)
        )
    return sql.SQL(
        "(SELECT * FROM (SELECT {cols} FROM recor.{t} WHERE valid_from <= {at}"
        " UNION ALL SELECT {cols} FROM recor.{h} WHERE valid_from <= {at} AND valid_to > {at})"
        " AS v WHERE NOT retired)"
    ).format(
        cols=cols,
        t=sql.Identifier(table),
        h=sql.Identifier(f"{table}_history"),
        at=sql.Literal(as_of),
    )


def _filters(
    alias: str,
    *,
    status: Any = None,
    kind: Any = None,
    bbox: Bbox | None = None,
) -> tuple[sql.Composable, list[Any]]:
    clauses: list[sql.Composable] = [sql.SQL("TRUE")]
    params: list[Any] = []
    a = sql.Identifier(alias)
    if status is not None:
        clauses.append(sql.SQL("{}.status::text = ANY(%s)").format(a))
        params.append(_as_list(status))
    if kind is not None:
        clauses.append(sql.SQL("{}.kind::text = ANY(%s)").format(a))
        params.append(_as_list(kind))
    if bbox is not None:
        clauses.append(sql.SQL("{}.geom && ST_MakeEnvelope(%s, %s, %s, %s, 2154)").format(a))
        params.extend(float(v) for v in bbox)
    return sql.SQL(" AND ").join(clauses), params


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [str(value)]
    return [str(v) for v in value]


def _column(alias: str, name: str) -> sql.Composable:
    """A selected column; ``extra`` comes as text, decoded by :func:`_frame` (much faster)."""
    column = sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(name))
    return sql.SQL("{}::text").format(column) if name == "extra" else column


def _decode_json(texts: Iterable[str | None]) -> list[dict]:
    return [{} if t is None or t == "{}" else json.loads(t) for t in texts]


def _frame(cur: psycopg.Cursor, columns: list[str]) -> gpd.GeoDataFrame:
    rows = cur.fetchall()
    df = pd.DataFrame(rows, columns=[*columns, "wkb"])
    if "extra" in df.columns:
        df["extra"] = _decode_json(df["extra"])
    geometry = shapely.from_wkb(df.pop("wkb").to_numpy()) if len(df) else []
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geometry, crs=STORAGE_CRS), crs=STORAGE_CRS)


def read_sites(
    conn: psycopg.Connection,
    *,
    status: Any = None,
    kind: Any = None,
    bbox: Bbox | None = None,
    as_of: datetime | None = None,
) -> gpd.GeoDataFrame:
    """Active sites (or those active at ``as_of``), optionally filtered.

    Parameters
    ----------
    status, kind
        One value or several (see :class:`recor.domain.Status`, :class:`~recor.domain.SiteKind`).
    bbox
        ``(xmin, ymin, xmax, ymax)`` in EPSG:2154.
    as_of
        A past time: the registry as it was then.

    Returns
    -------
    GeoDataFrame
        ``id, code, name, kind, operator, status, source, extra, valid_from, batch_id,
        geometry`` (Point, EPSG:2154), ordered by code.
    """
    where, params = _filters("s", status=status, kind=kind, bbox=bbox)
    fields = [*_SITE_FIELDS, "valid_from", "batch_id"]
    query = sql.SQL(
        "SELECT {cols}, ST_AsBinary(s.geom) FROM {versions} AS s WHERE {where} ORDER BY s.code"
    ).format(
        cols=sql.SQL(", ").join(_column("s", f) for f in fields),
        versions=_versions("sites", (*_SITE_FIELDS, "geom"), as_of),
        where=where,
    )
    with conn.cursor() as cur:
        cur.execute(query, params)
        frame = _frame(cur, fields)
    return _as_text(frame, ("kind", "status"))


def read_segments(
    conn: psycopg.Connection,
    *,
    status: Any = None,
    bbox: Bbox | None = None,
    as_of: datetime | None = None,
) -> gpd.GeoDataFrame:
    """Active segments (or those active at ``as_of``) with their end-site codes.

    Returns
    -------
    GeoDataFrame
        ``id, code, site_a, site_b, length_m, fibre_count, fibres_used, cable_type,
        installation, status, owner, operator, commissioned_on, source, extra, valid_from,
        batch_id, risk_groups`` (tuple of shared-risk group codes) and ``geometry``
        (LineString, EPSG:2154), ordered by code. Fibre counts are nullable integers.
    """
    where, params = _filters("g", status=status, bbox=bbox)
    own = [f for f in _SEGMENT_FIELDS if f not in {"site_a", "site_b", "length_m"}]
    cols = [
        *(_column("g", f) for f in own),
        sql.SQL("a.code"),
        sql.SQL("b.code"),
        sql.SQL("g.length_m"),
        sql.SQL("g.valid_from"),
        sql.SQL("g.batch_id"),
        sql.SQL("COALESCE(r.codes, '{}'::text[])"),
    ]
    risks = sql.SQL(
        "(SELECT l.segment_id, array_agg(r.code ORDER BY r.code) AS codes FROM {links} AS l"
        " JOIN {groups} AS r ON r.id = l.risk_group_id GROUP BY l.segment_id)"
    ).format(
        links=_versions("segment_risk_groups", _LINK_FIELDS, as_of),
        groups=_versions("risk_groups", _RISK_FIELDS, as_of),
    )
    query = sql.SQL(
        "SELECT {cols}, ST_AsBinary(g.geom) FROM {versions} AS g"
        " JOIN recor.sites a ON a.id = g.site_a JOIN recor.sites b ON b.id = g.site_b"
        " LEFT JOIN {risks} AS r ON r.segment_id = g.id"
        " WHERE {where} ORDER BY g.code"
    ).format(
        risks=risks,
        cols=sql.SQL(", ").join(cols),
        versions=_versions(
            "segments",
            (*(f for f in _SEGMENT_FIELDS if f not in {"length_m"}), "length_m", "geom"),
            as_of,
        ),
        where=where,
    )
    names = [*own, "site_a", "site_b", "length_m", "valid_from", "batch_id", "risk_groups"]
    with conn.cursor() as cur:
        cur.execute(query, params)
        frame = _frame(cur, names)
    frame["risk_groups"] = [tuple(v) for v in frame["risk_groups"]]
    for column in ("fibre_count", "fibres_used"):
        frame[column] = frame[column].astype("Int64")
    frame["length_m"] = frame["length_m"].astype(float)
    ordered = [*_SEGMENT_FIELDS, "valid_from", "batch_id", "risk_groups", "geometry"]
    return _as_text(frame[ordered], ("installation", "status"))


def read_risk_groups(conn: psycopg.Connection, *, as_of: datetime | None = None) -> pd.DataFrame:
    """Active shared-risk groups with the codes of their active segments.

    Returns
    -------
    DataFrame
        ``code, kind, name, source, extra, segment_codes`` (tuple), ordered by code.
    """
    query = sql.SQL(
        "SELECT r.code, r.kind::text, r.name, r.source, r.extra,"
        " COALESCE(array_agg(s.code ORDER BY s.code) FILTER (WHERE s.code IS NOT NULL),"
        " '{{}}'::text[])"
        " FROM {groups} AS r LEFT JOIN {links} AS l ON l.risk_group_id = r.id"
        " LEFT JOIN {segments} AS s ON s.id = l.segment_id"
        " GROUP BY r.code, r.kind, r.name, r.source, r.extra ORDER BY r.code"
    ).format(
        groups=_versions("risk_groups", _RISK_FIELDS, as_of),
        links=_versions("segment_risk_groups", _LINK_FIELDS, as_of),
        segments=_versions("segments", ("id", "code"), as_of),
    )
    rows = conn.execute(query).fetchall()
    frame = pd.DataFrame(rows, columns=["code", "kind", "name", "source", "extra", "segment_codes"])
    frame["segment_codes"] = [tuple(v) for v in frame["segment_codes"]]
    return frame


def read_codes(conn: psycopg.Connection, entity: str, *, bbox: Bbox | None = None) -> pd.DataFrame:
    """Codes and sources of the active sites or segments (no geometry: cheap).

    Parameters
    ----------
    entity
        ``"sites"`` or ``"segments"``.
    bbox
        ``(xmin, ymin, xmax, ymax)`` in EPSG:2154: only rows whose geometry meets it.
    """
    if entity not in {"sites", "segments"}:
        raise ValueError(f"entity must be 'sites' or 'segments', not {entity!r}")
    where, params = _filters("t", bbox=bbox)
    query = sql.SQL(
        "SELECT t.code, t.source FROM recor.{} AS t WHERE NOT t.retired AND {} ORDER BY t.code"
    ).format(sql.Identifier(entity), where)
    rows = conn.execute(query, params).fetchall()
    return pd.DataFrame(rows, columns=["code", "source"])


def registry_version(conn: psycopg.Connection, as_of: datetime | None = None) -> RegistryVersion:
    """The last batch that changed the registry (at or before ``as_of``) and its time.

    Every change, undo included, is a batch: a different version means different data.
    """
    query = (
        "SELECT id, COALESCE(finished_at, started_at) FROM recor.import_batches"
        " WHERE outcome <> 'running' AND (%s::timestamptz IS NULL OR started_at <= %s)"
        " ORDER BY id DESC LIMIT 1"
    )
    row = conn.execute(query, (as_of, as_of)).fetchone()
    if row is None:
        return RegistryVersion(None, None, as_of)
    return RegistryVersion(row[0], row[1], as_of)


def registry_generation(conn: psycopg.Connection) -> int:
    """The newest committed batch id (0 for an empty registry): what writers compare."""
    row = conn.execute("SELECT recor.registry_generation()").fetchone()
    return int(row[0]) if row else 0


def _as_text(frame: gpd.GeoDataFrame, columns: Iterable[str]) -> gpd.GeoDataFrame:
    for column in columns:
        frame[column] = frame[column].astype(str)
    return frame
