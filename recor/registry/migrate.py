"""Versioned schema migrations: ``NNNN_name.sql`` files applied once each, in order."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from importlib import resources
from typing import LiteralString, cast

import psycopg

from recor.errors import MigrationError

__all__ = ["Migration", "applied_migrations", "available_migrations", "upgrade"]

log = logging.getLogger(__name__)

_LOCK_KEY = 0x5245434F52_01  # "RECOR" + 1: one upgrader at a time

_BOOTSTRAP = """
CREATE EXTENSION IF NOT EXISTS postgis;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'recor_owner') THEN
        CREATE ROLE recor_owner NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'recor_editor') THEN
        CREATE ROLE recor_editor NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'recor_reader') THEN
        CREATE ROLE recor_reader NOLOGIN;
    END IF;
END
$$;
GRANT recor_reader TO recor_editor;
CREATE SCHEMA IF NOT EXISTS recor AUTHORIZATION recor_owner;
CREATE TABLE IF NOT EXISTS recor.schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    sha256     text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE recor.schema_migrations OWNER TO recor_owner;
"""


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    sql: str

    @property
    def sha256(self) -> str:
        """Checksum of the file: an applied migration must never change."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available_migrations() -> list[Migration]:
    """The migrations shipped with the package, in version order."""
    folder = resources.files("recor.registry") / "migrations"
    found = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        number, _, rest = entry.name.partition("_")
        if not number.isdigit():
            raise MigrationError(f"migration file {entry.name}: expected NNNN_name.sql")
        found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a version number: {versions}")
    return found


def applied_migrations(conn: psycopg.Connection) -> dict[int, str]:
    """Version → checksum of the migrations already applied (empty on a new database)."""
    exists = conn.execute("SELECT to_regclass('recor.schema_migrations')").fetchone()
    if exists is None or exists[0] is None:
        return {}
    rows = conn.execute("SELECT version, sha256 FROM recor.schema_migrations").fetchall()
    return dict(rows)


def upgrade(conn: psycopg.Connection, *, target: int | None = None) -> list[str]:
    """Apply every migration not yet applied, each in its own transaction.

    Re-running is a no-op. Data already in the registry is kept: migrations only add.

    Parameters
    ----------
    target
        Stop after this version (None: apply all).

    Returns
    -------
    list of str
        Names (``NNNN_name``) of the migrations applied by this call.
    """
    if not conn.autocommit:
        conn.commit()
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        _bootstrap(conn)
    applied = applied_migrations(conn)
    done: list[str] = []
    for migration in available_migrations():
        if target is not None and migration.version > target:
            break
        label = f"{migration.version:04d}_{migration.name}"
        if migration.version in applied:
            if applied[migration.version] != migration.sha256:
                raise MigrationError(
                    f"migration {label} was edited after being applied "
                    "(checksum differs); add a new migration instead"
                )
            continue
        _apply(conn, migration, label)
        done.append(label)
    return done


def _bootstrap(conn: psycopg.Connection) -> None:
    """Schema, PostGIS and roles: needs an administrator the first time only."""
    present = conn.execute(
        "SELECT (SELECT count(*) FROM pg_extension WHERE extname = 'postgis'),"
        " to_regclass('recor.schema_migrations') IS NOT NULL"
    ).fetchone()
    if present is not None and present[0] == 1 and present[1]:
        return
    try:
        conn.execute(_BOOTSTRAP)
    except psycopg.errors.InsufficientPrivilege as exc:
        raise MigrationError(
            "first set-up of this database needs an administrator: PostGIS, the schema "
            f"'recor' and the roles recor_owner/editor/reader must be created ({exc})"
        ) from exc
    except psycopg.errors.FeatureNotSupported as exc:
        raise MigrationError(f"PostGIS is not installed on the server: {exc}") from exc
    except psycopg.errors.UndefinedFile as exc:
        raise MigrationError(
            "PostGIS is not installed on the server (apt-get install "
            f"postgresql-<major>-postgis-3; `make setup` does it): {exc}"
        ) from exc


def _apply(conn: psycopg.Connection, migration: Migration, label: str) -> None:
    log.info("applying migration %s", label)
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            again = conn.execute(
                "SELECT 1 FROM recor.schema_migrations WHERE version = %s", (migration.version,)
            ).fetchone()
            if again:
                return
            conn.execute("SET LOCAL ROLE recor_owner")
            conn.execute(cast(LiteralString, migration.sql))
            conn.execute(
                "INSERT INTO recor.schema_migrations (version, name, sha256) VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.sha256),
            )
    except psycopg.Error as exc:
        raise MigrationError(f"migration {label} failed and was rolled back: {exc}") from exc
