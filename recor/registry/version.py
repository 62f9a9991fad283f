"""The registry's version: its newest batch, generation and state (no GIS library needed).

Re-exported by :mod:`recor.registry.read`; kept apart so that ``recor summary``, an undo
and an import's identical-delivery answer do not import pandas and geopandas to ask.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from recor.registry.model import NewestBatch, RegistryVersion

__all__ = ["newest_batch", "registry_generation", "registry_state", "registry_version"]


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


def newest_batch(conn: psycopg.Connection) -> NewestBatch | None:
    """The newest committed batch (the registry's generation), None for an empty registry."""
    row = conn.execute(
        "SELECT id, outcome::text, input_digest, counts, profile, app_user, finished_at,"
        " db_user = session_user FROM recor.import_batches WHERE id = recor.registry_generation()"
    ).fetchone()
    if row is None:
        return None
    return NewestBatch(int(row[0]), row[1], row[2], dict(row[3] or {}), *row[4:8])


def registry_state(conn: psycopg.Connection) -> str:
    """The registry's settings and applied migrations, as one text (part of an import digest)."""
    settings = conn.execute(
        "SELECT key, value FROM recor.registry_settings ORDER BY key"
    ).fetchall()
    migrations = conn.execute(
        "SELECT version, sha256 FROM recor.schema_migrations ORDER BY version"
    ).fetchall()
    return repr((settings, migrations))
