"""Read the registry as GeoDataFrames: now, or as of any past time."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from recor._gc import paused_gc
from recor.config import STORAGE_CRS
from recor.domain import RISK_GROUP_COLUMNS, SEGMENT_COLUMNS, SITE_COLUMNS
from recor.registry._columnar import Column, columnar_query, decode_columns
from recor.registry.version import (
    newest_batch,
    registry_generation,
    registry_state,
    registry_version,
)

__all__ = [
    "newest_batch",
    "read_codes",
    "read_risk_groups",
    "read_segments",
    "read_sites",
    "registry_generation",
    "registry_state",
    "registry_version",
]

_SITE_FIELDS = ("id", *SITE_COLUMNS)
_SEGMENT_FIELDS = ("id", *SEGMENT_COLUMNS[:3], "length_m", *SEGMENT_COLUMNS[3:])
_RISK_FIELDS = ("id", *RISK_GROUP_COLUMNS)
_LINK_FIELDS = ("segment_id", "risk_group_id")

#: The columns a network graph uses (``detail=False``): the rest is description.
_NETWORK_FIELDS = frozenset(
    {"id", "code", "name", "kind", "status", "site_a", "site_b", "length_m"}
    | {"fibre_count", "fibres_used", "installation", "risk_groups"}
)

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


#: Kind of each stored column for the columnar read (:mod:`recor.registry._columnar`).
_KINDS = {
    "id": "int8",
    "batch_id": "int8",
    "length_m": "float8",
    "fibre_count": "int4_null",
    "fibres_used": "int4_null",
    "commissioned_on": "date",
    "extra": "object",
    "valid_from": "timestamptz",
    "risk_groups": "json",
}


@dataclass(frozen=True)
class FrameRead:
    """A columnar read, split so that several can travel together (see :mod:`.snapshot`):
    ``query`` with ``params`` returns one row that ``columns`` decode and ``finish`` turns
    into a frame (given the decoded columns of the ``needs`` reads too)."""

    query: sql.Composed
    params: list[Any]
    columns: list[Column]
    finish: Callable[..., Any]
    needs: tuple[FrameRead, ...] = ()


def run_reads(conn: psycopg.Connection, reads: Sequence[FrameRead]) -> list[Any]:
    """Send every read (and those they need) at once, then decode each in turn.

    In pipeline mode the server computes the next result while this process decodes the
    previous one; in one transaction, every read sees the same registry state.
    """
    every: list[FrameRead] = []
    for read in reads:
        every.extend(r for r in (*read.needs, read) if r not in every)
    with paused_gc(), read_transaction(conn), conn.pipeline():
        cursors = []
        for read in every:
            cur = conn.cursor(binary=True)
            cur.execute(read.query, read.params)
            cursors.append(cur)
        decoded: dict[int, dict[str, Any]] = {}
        for read, cur in zip(every, cursors, strict=True):
            row = cur.fetchone()
            cur.close()
            assert row is not None  # an aggregate without GROUP BY always returns one row
            decoded[id(read)] = decode_columns(row, read.columns)
    with paused_gc():
        return [
            read.finish(decoded[id(read)], *(decoded[id(need)] for need in read.needs))
            for read in reads
        ]


@contextmanager
def read_transaction(conn: psycopg.Connection) -> Iterator[None]:
    """One consistent read: a repeatable-read transaction (unless one is already open).

    Parallel plans are turned off inside it: on a busy machine the workers of a sorted
    read gather their rows several times slower than one process reads them.
    """
    fresh = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    with conn.transaction():
        if fresh:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        row = conn.execute(
            "SELECT current_setting('max_parallel_workers_per_gather'),"
            " set_config('max_parallel_workers_per_gather', '0', true)"
        ).fetchone()
        yield
        if not fresh and row is not None:
            conn.execute(
                "SELECT set_config('max_parallel_workers_per_gather', %s, true)", (row[0],)
            )


def _column(alias: str, name: str) -> Column:
    """A stored column; enumerations come as their text."""
    ref = sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(name))
    if name in {"kind", "status", "installation"}:
        ref = sql.SQL("{}::text").format(ref)
    return Column(name, ref, _KINDS.get(name, "text"))


def _frame(columns: dict[str, Any], names: Iterable[str]) -> gpd.GeoDataFrame:
    """The frame of a columnar read, each column built once from its array."""
    data = {name: _series(name, columns[name]) for name in names}
    geometry = gpd.GeoSeries(columns["geometry"], crs=STORAGE_CRS)
    return gpd.GeoDataFrame(data, geometry=geometry, crs=STORAGE_CRS)


def _series(name: str, values: Any) -> pd.Series:
    kind = _KINDS.get(name, "text")
    if kind == "text":
        return pd.Series(values, dtype="str")
    if kind in ("date", "json", "object"):
        return pd.Series(values, dtype=object)
    return pd.Series(values)


def sites_read(
    *,
    status: Any = None,
    kind: Any = None,
    bbox: Bbox | None = None,
    as_of: datetime | None = None,
    detail: bool = True,
) -> FrameRead:
    """The read of :func:`read_sites`, to run with :func:`run_reads`.

    ``detail=False`` reads only what a network graph uses (no operator, source, extra,
    validity): half the transfer for the network commands."""
    where, params = _filters("s", status=status, kind=kind, bbox=bbox)
    fields = [*_SITE_FIELDS, "valid_from", "batch_id"]
    if not detail:
        fields = [f for f in fields if f in _NETWORK_FIELDS]
    columns = [_column("s", f) for f in fields]
    columns.append(Column("geometry", sql.SQL("s.geom"), "point"))
    rows = sql.SQL("FROM {versions} AS s WHERE {where}").format(
        versions=_versions("sites", (*_SITE_FIELDS, "geom"), as_of), where=where
    )
    query = columnar_query(columns, rows, sql.SQL("s.code"))
    return FrameRead(query, params, columns, lambda read: _frame(read, fields))


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
    read = sites_read(status=status, kind=kind, bbox=bbox, as_of=as_of)
    return run_reads(conn, [read])[0]


def _site_codes_read(ends: sql.Composable | None = None, params: Sequence[Any] = ()) -> FrameRead:
    """Code of every site id ever stored (rows are never deleted, only retired), or of
    the sites ``ends`` (a query of ids) selects."""
    columns = [Column("id", sql.SQL("id"), "int8"), Column("code", sql.SQL("code"), "text")]
    rows = sql.SQL("FROM recor.sites")
    if ends is not None:
        rows = sql.SQL("FROM recor.sites WHERE id IN ({})").format(ends)
    query = columnar_query(columns, rows, sql.SQL("id"))
    return FrameRead(query, list(params), columns, lambda read: read)


def segments_read(
    *,
    status: Any = None,
    bbox: Bbox | None = None,
    as_of: datetime | None = None,
    detail: bool = True,
) -> FrameRead:
    """The read of :func:`read_segments`, to run with :func:`run_reads` (``detail`` as
    for :func:`sites_read`)."""
    where, params = _filters("g", status=status, bbox=bbox)
    names = [*_SEGMENT_FIELDS, "valid_from", "batch_id", "risk_groups"]
    if not detail:
        names = [f for f in names if f in _NETWORK_FIELDS]
    own = [f for f in names if f not in {"site_a", "site_b", "risk_groups"}]
    columns = [_column("g", f) for f in own]
    columns += [
        Column("site_a_id", sql.SQL("g.site_a"), "int8"),
        Column("site_b_id", sql.SQL("g.site_b"), "int8"),
        Column("risk_groups", sql.SQL("r.codes"), "json"),
        Column("geometry", sql.SQL("g.geom"), "geometry"),
    ]
    risks = sql.SQL(
        "(SELECT l.segment_id, array_agg(r.code ORDER BY r.code) AS codes FROM {links} AS l"
        " JOIN {groups} AS r ON r.id = l.risk_group_id GROUP BY l.segment_id)"
    ).format(
        links=_versions("segment_risk_groups", _LINK_FIELDS, as_of),
        groups=_versions("risk_groups", _RISK_FIELDS, as_of),
    )
    # end-site codes are joined here rather than on the server: without statistics the
    # planner picks a nested loop of 400,000 index probes for the join
    rows = sql.SQL(
        "FROM {versions} AS g LEFT JOIN {risks} AS r ON r.segment_id = g.id WHERE {where}"
    ).format(
        risks=risks,
        versions=_versions(
            "segments",
            (*(f for f in _SEGMENT_FIELDS if f not in {"length_m"}), "length_m", "geom"),
            as_of,
        ),
        where=where,
    )
    query = columnar_query(columns, rows, sql.SQL("g.code"))
    codes = _site_codes_read()
    if bbox is not None:  # a small window: only its end sites
        ends = sql.SQL("SELECT g.site_a {rows} UNION SELECT g.site_b {rows}").format(rows=rows)
        codes = _site_codes_read(ends, [*params, *params])
    finish = partial(_segments_frame, names=names)
    return FrameRead(query, params, columns, finish, needs=(codes,))


def _segments_frame(
    read: dict[str, Any], sites: dict[str, Any], *, names: list[str]
) -> gpd.GeoDataFrame:
    order = np.argsort(sites["id"], kind="stable")
    ids, codes = sites["id"][order], np.asarray(sites["code"], dtype=object)[order]
    found = np.ones(len(read["site_a_id"]), dtype=bool)
    for end in ("site_a", "site_b"):
        wanted = read.pop(f"{end}_id")
        at = np.minimum(np.searchsorted(ids, wanted), max(len(ids) - 1, 0))
        hit = ids[at] == wanted if len(ids) else np.zeros(len(wanted), dtype=bool)
        found &= hit
        read[end] = codes[at] if len(ids) else np.empty(len(wanted), dtype=object)
    # one shared empty tuple for the (many) segments in no shared-risk group
    none: tuple[str, ...] = ()
    read["risk_groups"] = [tuple(codes) if codes else none for codes in read["risk_groups"]]
    frame = _frame(read, names)
    if not found.all():  # an end site no longer stored: left out, as an inner join would
        frame = frame[found].reset_index(drop=True)
    return frame


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
    read = segments_read(status=status, bbox=bbox, as_of=as_of)
    return run_reads(conn, [read])[0]


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
