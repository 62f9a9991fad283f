"""Reference layers: administrative boundaries stored beside the network (migration 0003).

A layer (``communes``, ``departements``, ...) is replaced whole by each import, in one
transaction, and the import is recorded in ``recor.reference_imports``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import sql
from psycopg.types.json import Jsonb

from recor.config import STORAGE_CRS
from recor.errors import NotFound, RegistryError

__all__ = [
    "COG_COLUMNS",
    "REFERENCE_KINDS",
    "ReferenceImport",
    "list_reference_layers",
    "read_cog",
    "read_reference",
    "write_cog",
    "write_reference",
]

#: Integer columns of the official geographic code.
_COG_INTEGERS = frozenset({"chief_town_rank", "population"})

#: Columns of the official geographic code as stored (``reference_cog``).
COG_COLUMNS: tuple[str, ...] = (
    "code",
    "name",
    "type",
    "departement",
    "parent",
    "chief_town_rank",
    "population",
    "epci_code",
    "epci_name",
    "epci_type",
)

#: Kinds of reference layer recor knows how to use (others may be stored too).
REFERENCE_KINDS: tuple[str, ...] = (
    "region",
    "departements",
    "arrondissements",
    "cantons",
    "communes",
)


@dataclass(frozen=True)
class ReferenceImport:
    """One import of a reference layer."""

    id: int
    kind: str
    source_file: str
    features: int
    imported_at: datetime


def write_reference(
    conn: psycopg.Connection,
    areas: gpd.GeoDataFrame,
    *,
    kind: str,
    source_file: str,
    sha256: str,
    source_crs: str,
) -> ReferenceImport:
    """Replace the reference layer ``kind`` by ``areas``, in one transaction.

    Parameters
    ----------
    areas
        Columns ``code``, ``name``; (Multi)Polygon geometries in EPSG:2154.
    kind
        Layer name, lower-case letters and ``_`` (e.g. ``communes``).
    source_file, sha256, source_crs
        Provenance recorded with the import.

    Returns
    -------
    ReferenceImport
    """
    if areas.crs is None or areas.crs.to_epsg() != STORAGE_CRS:
        raise RegistryError(
            f"reference layer {kind!r}: geometries must be in EPSG:{STORAGE_CRS}, got {areas.crs}"
        )
    geoms = shapely.set_srid(np.asarray(areas.geometry.array, dtype=object), STORAGE_CRS)
    try:
        with conn.transaction():
            # The owner's function writes the layer and its import record: editors cannot
            # change reference layers, or delete them without trace, any other way.
            called = conn.execute(
                "SELECT recor.replace_reference_layer(%s, %s, %s, %s, %s, %s, %s)",
                (
                    kind,
                    source_file,
                    sha256,
                    source_crs,
                    areas["code"].astype(str).tolist(),
                    areas["name"].fillna("").astype(str).tolist(),
                    shapely.to_wkb(geoms, include_srid=True).tolist(),
                ),
            ).fetchone()
            assert called is not None
            row = conn.execute(
                "SELECT id, imported_at FROM recor.reference_imports WHERE id = %s", (called[0],)
            ).fetchone()
            assert row is not None
            import_id, imported_at = row
    except psycopg.errors.UniqueViolation as exc:
        raise RegistryError(
            f"reference layer {kind!r} from {source_file}: two areas share a code"
            f" ({exc.diag.message_detail})"
        ) from exc
    except psycopg.errors.CheckViolation as exc:
        raise RegistryError(
            f"reference layer {kind!r} from {source_file}: {exc.diag.message_primary}"
            f" (rule {exc.diag.constraint_name})"
        ) from exc
    except psycopg.errors.InsufficientPrivilege as exc:
        raise RegistryError(
            f"reference layer {kind!r}: permission denied (role {conn.info.user} is not"
            f" recor_editor): {exc.diag.message_primary}"
        ) from exc
    return ReferenceImport(import_id, kind, source_file, len(areas), imported_at)


def read_reference(
    conn: psycopg.Connection, kind: str, *, missing_ok: bool = False
) -> gpd.GeoDataFrame:
    """The reference layer ``kind``: columns ``code``, ``name``, geometry (EPSG:2154).

    Raises
    ------
    NotFound
        When no such layer was imported (unless ``missing_ok``: then an empty frame).
    """
    rows = conn.execute(
        "SELECT code, name, ST_AsBinary(geom) FROM recor.reference_areas WHERE kind = %s"
        " ORDER BY code",
        (kind,),
    ).fetchall()
    if not rows and not missing_ok:
        raise NotFound(
            f"no reference layer {kind!r} in the registry;"
            f" import one with `recor reference import FILE --kind {kind}`"
        )
    frame = pd.DataFrame(rows, columns=["code", "name", "wkb"])
    geometry = shapely.from_wkb(frame.pop("wkb").to_numpy()) if len(frame) else []
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, crs=STORAGE_CRS))


def list_reference_layers(conn: psycopg.Connection) -> list[ReferenceImport]:
    """The latest import of every stored reference layer."""
    rows = conn.execute(
        "SELECT DISTINCT ON (kind) id, kind, source_file, features, imported_at"
        " FROM recor.reference_imports WHERE kind IN"
        " (SELECT DISTINCT kind FROM recor.reference_areas)"
        " OR (kind = 'cog' AND EXISTS (SELECT 1 FROM recor.reference_cog))"
        " ORDER BY kind, id DESC"
    ).fetchall()
    return [ReferenceImport(*row) for row in rows]


def write_cog(
    conn: psycopg.Connection, cog: pd.DataFrame, *, source_file: str, sha256: str
) -> ReferenceImport:
    """Replace the official geographic code by ``cog`` (columns :data:`COG_COLUMNS`).

    One transaction; recorded as a reference import of kind ``cog``. Unknown populations,
    ranks and EPCI stay NULL.
    """
    frame = cog.loc[:, list(COG_COLUMNS)].astype(object).where(cog.notna(), None)
    rows = [
        {k: (int(v) if k in _COG_INTEGERS and v is not None else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]
    try:
        with conn.transaction():
            row = conn.execute(
                "SELECT import_id, imported_at FROM recor.replace_reference_cog(%s, %s, %s)",
                (source_file, sha256, Jsonb(rows)),
            ).fetchone()
            assert row is not None
            import_id, imported_at = row
    except psycopg.errors.UniqueViolation as exc:
        raise RegistryError(
            f"official geographic code from {source_file}: a code appears twice"
            f" ({exc.diag.message_detail})"
        ) from exc
    except (psycopg.errors.CheckViolation, psycopg.errors.DataError) as exc:
        raise RegistryError(
            f"official geographic code from {source_file}: {exc.diag.message_primary}"
            f" (rule {exc.diag.constraint_name})"
        ) from exc
    return ReferenceImport(import_id, "cog", source_file, len(frame), imported_at)


def read_cog(conn: psycopg.Connection) -> pd.DataFrame:
    """The official geographic code (:data:`COG_COLUMNS`; empty when none was imported).

    ``population`` and ``chief_town_rank`` are nullable integers: unknown stays unknown.
    """
    columns = sql.SQL(", ").join(map(sql.Identifier, COG_COLUMNS))
    rows = conn.execute(
        sql.SQL("SELECT {} FROM recor.reference_cog ORDER BY code, type").format(columns)
    ).fetchall()
    frame = pd.DataFrame(rows, columns=list(COG_COLUMNS))
    for column in ("population", "chief_town_rank"):
        frame[column] = frame[column].astype("Int64")
    return frame
