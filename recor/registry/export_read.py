"""What the exports read besides sites and segments: provenance, links, GIS layer sources."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import psycopg
from psycopg import sql

from recor.registry.read import _versions

__all__ = [
    "GIS_RELATIONS",
    "ConnectionParameters",
    "as_of_source",
    "connection_parameters",
    "count_rows",
    "read_batches",
    "read_segment_risk_links",
    "registry_extent",
]

#: Relations a GIS client reads (``recor export qgis``): relation → (key column, geometry).
GIS_RELATIONS: dict[str, tuple[str, str | None]] = {
    "active_sites": ("id", "geom"),
    "active_segments": ("id", "geom"),
    "risk_group_lines": ("id", "geom"),
    "site_versions": ("version_key", "geom"),
    "segment_versions": ("version_key", "geom"),
    "reference_areas": ("id", "geom"),
    "import_batches": ("id", None),
}

_BATCH_COLUMNS = [
    "id",
    "started_at",
    "finished_at",
    "app_user",
    "db_user",
    "profile",
    "outcome",
    "note",
    "undoes",
    "undone_by",
    "source_files",
    "counts",
]


@dataclass(frozen=True)
class ConnectionParameters:
    """How a GIS client reaches the registry: a libpq service, or host/port/database/user.

    Never a password: the client takes it from its own ``~/.pgpass``, ``PGPASSWORD`` or
    authentication configuration.
    """

    service: str | None
    host: str | None
    port: str | None
    dbname: str | None
    user: str | None
    sslmode: str | None = None


def connection_parameters(conn: psycopg.Connection) -> ConnectionParameters:
    """The parameters of an open connection, minus any secret.

    A libpq service (``service=`` in the connection string or ``PGSERVICE``) is kept as a
    service name, so the project follows the user's ``pg_service.conf``; otherwise the
    effective host, port, database and user are given.
    """
    given = psycopg.conninfo.conninfo_to_dict(conn.info.dsn)
    service = given.get("service") or os.environ.get("PGSERVICE")
    info = conn.info
    if service:
        return ConnectionParameters(
            service=str(service),
            host=None,
            port=None,
            dbname=str(given["dbname"]) if given.get("dbname") else None,
            user=str(given["user"]) if given.get("user") else None,
        )
    return ConnectionParameters(
        service=None,
        host=info.host,
        port=str(info.port),
        dbname=info.dbname,
        user=info.user,
        sslmode=str(given["sslmode"]) if given.get("sslmode") else None,
    )


def read_batches(conn: psycopg.Connection, *, as_of: datetime | None = None) -> pd.DataFrame:
    """Provenance of every finished import batch (started at or before ``as_of``), oldest first.

    Returns
    -------
    DataFrame
        ``id, started_at, finished_at, app_user, db_user, profile, outcome, note, undoes,
        undone_by`` and ``source_files``/``counts`` as JSON text.
    """
    rows = conn.execute(
        "SELECT id, started_at, finished_at, app_user, db_user, profile, outcome::text, note,"
        " undoes, undone_by, source_files::text, counts::text FROM recor.import_batches"
        " WHERE outcome <> 'running' AND (%s::timestamptz IS NULL OR started_at <= %s)"
        " ORDER BY id",
        (as_of, as_of),
    ).fetchall()
    frame = pd.DataFrame(rows, columns=_BATCH_COLUMNS)
    for column in ("undoes", "undone_by"):
        frame[column] = frame[column].astype("Int64")
    return frame


def read_segment_risk_links(
    conn: psycopg.Connection, *, as_of: datetime | None = None
) -> pd.DataFrame:
    """Active segment ↔ shared-risk group links at ``as_of``: ``segment_code, risk_group_code``."""
    query = sql.SQL(
        "SELECT s.code, r.code FROM {links} AS l"
        " JOIN {segments} AS s ON s.id = l.segment_id"
        " JOIN {groups} AS r ON r.id = l.risk_group_id ORDER BY s.code, r.code"
    ).format(
        links=_versions("segment_risk_groups", ("segment_id", "risk_group_id"), as_of),
        segments=_versions("segments", ("id", "code"), as_of),
        groups=_versions("risk_groups", ("id", "code"), as_of),
    )
    rows = conn.execute(query).fetchall()
    return pd.DataFrame(rows, columns=["segment_code", "risk_group_code"])


def as_of_source(conn: psycopg.Connection, relation: str, as_of: datetime) -> str:
    """SQL of a sub-query: ``relation`` (``active_sites``/``active_segments``) at ``as_of``.

    For GIS clients that accept a query as a layer source: same columns as the view.
    """
    if relation == "active_sites":
        query = sql.SQL(
            "(SELECT id, code, name, kind, operator, status, source, geom, valid_from, batch_id"
            " FROM {} AS s)"
        ).format(
            _versions(
                "sites",
                ("id", "code", "name", "kind", "operator", "status", "source", "geom"),
                as_of,
            )
        )
    elif relation == "active_segments":
        fields = (
            "id", "site_a", "site_b", "code", "length_m", "fibre_count", "fibres_used",
            "cable_type", "installation", "status", "owner", "operator", "commissioned_on",
            "source", "geom",
        )  # fmt: skip
        query = sql.SQL(
            "(SELECT g.id, g.code, a.code AS site_a, b.code AS site_b, g.length_m,"
            " g.fibre_count, g.fibres_used, g.cable_type, g.installation, g.status, g.owner,"
            " g.operator, g.commissioned_on, g.source, g.geom, g.valid_from, g.batch_id"
            " FROM {} AS g JOIN recor.sites a ON a.id = g.site_a"
            " JOIN recor.sites b ON b.id = g.site_b)"
        ).format(_versions("segments", fields, as_of))
    else:
        raise ValueError(f"no as-of source for {relation!r}")
    return query.as_string(conn)


def count_rows(conn: psycopg.Connection, relation: str) -> int:
    """Number of rows of one of :data:`GIS_RELATIONS` (what a GIS layer should show)."""
    if relation not in GIS_RELATIONS:
        raise ValueError(f"{relation!r} is not one of {', '.join(GIS_RELATIONS)}")
    query = sql.SQL("SELECT count(*) FROM recor.{}").format(sql.Identifier(relation))
    return int(conn.execute(query).fetchone()[0])


def registry_extent(conn: psycopg.Connection) -> tuple[float, float, float, float] | None:
    """``(xmin, ymin, xmax, ymax)`` (EPSG:2154) of the active sites, or None when empty."""
    row = conn.execute(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)"
        " FROM (SELECT ST_Extent(geom) AS e FROM recor.active_sites) AS x"
    ).fetchone()
    if row is None or row[0] is None:
        return None
    return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))
