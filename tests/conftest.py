"""Shared fixtures: a throwaway PostGIS registry per test session, sample data, paths.

The session creates one migrated database and uses it as a template: each test that needs
an empty registry gets its own clone (fast, isolated), dropped after. Every database made
here is dropped at the end of the session. Without a server, database tests skip locally
and fail on CI (``CI`` set): a database test that skips on CI is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from recor import registry
from recor.registry import BatchInfo, Delivery

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


def _admin_conninfo() -> str:
    return os.environ.get("RECOR_TEST_ADMIN_URL", "dbname=postgres")


def _url_for(dbname: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(_admin_conninfo())
    params["dbname"] = dbname
    return psycopg.conninfo.make_conninfo(**params)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"database tests cannot run on CI: {reason}")
    pytest.skip(f"no PostGIS server: {reason}")


def _create_database(name: str, template: str | None = None) -> None:
    with psycopg.connect(_admin_conninfo(), autocommit=True) as admin:
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            query = sql.SQL("{} TEMPLATE {}").format(query, sql.Identifier(template))
        admin.execute(query)


def _drop_database(name: str) -> None:
    with psycopg.connect(_admin_conninfo(), autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def postgis_url() -> Iterator[str]:
    """A migrated throwaway registry database for the session (also the clone template)."""
    name = f"recor_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        _create_database(name)
    except psycopg.OperationalError as exc:
        _unavailable(str(exc).strip().splitlines()[0])
    url = _url_for(name)
    try:
        with registry.connect(url, autocommit=True) as conn:
            registry.upgrade(conn)
    except Exception as exc:
        _drop_database(name)
        _unavailable(f"cannot migrate a test database: {exc}")
    yield url
    _drop_database(name)


@pytest.fixture
def registry_url(postgis_url: str) -> Iterator[str]:
    """A fresh, empty, migrated registry for one test."""
    template = psycopg.conninfo.conninfo_to_dict(postgis_url)["dbname"]
    name = f"{template}_{uuid.uuid4().hex[:8]}"
    _create_database(name, template=str(template))
    yield _url_for(name)
    _drop_database(name)


@pytest.fixture
def empty_database_url(postgis_url: str) -> Iterator[str]:
    """URL of an empty database with nothing installed (for migration tests)."""
    template = psycopg.conninfo.conninfo_to_dict(postgis_url)["dbname"]
    name = f"{template}_{uuid.uuid4().hex[:8]}_empty"
    _create_database(name)
    yield _url_for(name)
    _drop_database(name)


@pytest.fixture
def conn(registry_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to a fresh registry (writes make their own transaction)."""
    with registry.connect(registry_url, autocommit=True) as connection:
        yield connection


@pytest.fixture(scope="session")
def sample_delivery() -> Delivery:
    """The bundled sample network, built in memory by the generator."""
    from recor.sample import build_sample

    return build_sample()


@pytest.fixture(scope="session")
def sample_registry_url(postgis_url: str, sample_delivery: Delivery) -> Iterator[str]:
    """A registry holding the sample network. Read only: never write to it."""
    yield from loaded_registry(postgis_url, sample_delivery, "sample")


def loaded_registry(postgis_url: str, delivery: Delivery, name: str) -> Iterator[str]:
    """A session registry cloned from the template, holding ``delivery``; dropped after.

    For session fixtures (``yield from``): ``name`` suffixes the database and is the
    batch's profile.
    """
    template = psycopg.conninfo.conninfo_to_dict(postgis_url)["dbname"]
    database = f"{template}_{name}"
    _create_database(database, template=str(template))
    url = _url_for(database)
    with registry.connect(url, autocommit=True) as connection:
        registry.load_delivery(connection, delivery, BatchInfo(profile=name))
    yield url
    _drop_database(database)


@pytest.fixture(scope="session")
def admin_cvl() -> Path:
    """The real administrative boundaries of Centre-Val de Loire (absent: skip; on CI: fail)."""
    folder = SHARED_DATA / "admin-cvl"
    if not (folder / "communes.geojson").exists():
        _shared_data_missing(f"shared boundaries not found at {folder}")
    return folder


@pytest.fixture(scope="session")
def gracethd_templates() -> Path:
    """The official empty GraceTHD v2.0.1 exchange templates (absent: skip; on CI: fail)."""
    folder = SHARED_DATA / "gracethd-v2"
    if not (folder / "t_noeud.shp").exists():
        _shared_data_missing(f"GraceTHD templates not found at {folder}")
    return folder


def _shared_data_missing(reason: str) -> None:
    """Skip locally; fail on CI (``CI`` set), where the shared data must be present."""
    if os.environ.get("CI"):
        pytest.fail(f"shared data missing on CI: {reason}")
    pytest.skip(reason)
