"""The one way to reach the registry database."""

from __future__ import annotations

import logging
import os

import psycopg
from psycopg import sql

from recor.config import DatabaseSettings
from recor.errors import RegistryError

__all__ = ["connect", "describe_target", "ensure_database"]

log = logging.getLogger(__name__)


def connect(
    database: DatabaseSettings | str | None = None, *, autocommit: bool = False
) -> psycopg.Connection:
    """Open a connection to the registry.

    Parameters
    ----------
    database
        Settings, a libpq URI/conninfo, or None for ``RECOR_DATABASE_URL`` / libpq's
        environment with database ``recor``.
    autocommit
        Leave False for writes: the caller commits one transaction per user action.

    Returns
    -------
    psycopg.Connection
        With ``search_path`` = ``recor, public`` and the time zone set to UTC.
    """
    if database is None:
        from recor.config import Settings

        database = Settings.from_env().database
    conninfo = database.conninfo() if isinstance(database, DatabaseSettings) else database
    try:
        conn = psycopg.connect(
            conninfo,
            autocommit=autocommit,
            options="-c search_path=recor,public -c TimeZone=UTC",
            application_name="recor",
        )
    except psycopg.OperationalError as exc:
        raise RegistryError(
            f"cannot connect to the registry database ({describe_target(conninfo)}): "
            f"{_first_line(exc)}"
        ) from exc
    log.debug("connected to %s", describe_target(conninfo))
    return conn


def describe_target(conninfo: str) -> str:
    """Host, port, database and user of a conninfo, without any password."""
    try:
        params = psycopg.conninfo.conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "unparseable connection string"
    shown = {k: v for k, v in params.items() if k in {"host", "port", "dbname", "user"}}
    if not shown:
        return "libpq defaults"
    return " ".join(f"{k}={v}" for k, v in sorted(shown.items()))


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def ensure_database(database: DatabaseSettings) -> bool:
    """Create the registry database when it does not exist yet; True if it was created.

    Connects to the server's maintenance database (``postgres``) with the same parameters.
    """
    conninfo = database.conninfo()
    params = psycopg.conninfo.conninfo_to_dict(conninfo)
    name = params.get("dbname") or os.environ.get("PGDATABASE") or "recor"
    params["dbname"] = "postgres"
    try:
        with psycopg.connect(psycopg.conninfo.make_conninfo(**params), autocommit=True) as admin:
            exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if exists.fetchone():
                return False
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(name))))
    except psycopg.OperationalError as exc:
        raise RegistryError(
            f"cannot reach the server to create database {name!r} "
            f"({describe_target(conninfo)}): {_first_line(exc)}"
        ) from exc
    log.info("created database %s", name)
    return True
