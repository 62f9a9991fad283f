"""Batches, version history of a row, and undoing a batch."""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from recor.config import STORAGE_CRS
from recor.domain import RISK_GROUP_COLUMNS, SEGMENT_COLUMNS, SITE_COLUMNS
from recor.errors import NotFound, UndoRefused
from recor.registry.batch import batch_transaction, bulk_work_mem, finish_batch, registry_error
from recor.registry.lock import LockWait, writing
from recor.registry.model import BatchInfo, EntityCounts, LoadSummary

if TYPE_CHECKING:  # imported by history() and list_batches(): an undo needs no GIS library
    import geopandas as gpd
    import pandas as pd

__all__ = ["history", "list_batches", "undo_batch"]

# Data columns restored by an undo, per table (identity and version columns excluded).
_DATA_COLUMNS: dict[str, tuple[str, ...]] = {
    "sites": (*SITE_COLUMNS[1:], "geom", "retired"),
    "segments": (*SEGMENT_COLUMNS[1:], "geom", "retired"),
    "risk_groups": (*RISK_GROUP_COLUMNS[1:], "retired"),
    "segment_risk_groups": ("retired",),
}
_KEYS: dict[str, tuple[str, ...]] = {
    "sites": ("id",),
    "segments": ("id",),
    "risk_groups": ("id",),
    "segment_risk_groups": ("segment_id", "risk_group_id"),
}
_LABELS: dict[str, str] = {
    "sites": "t.code",
    "segments": "t.code",
    "risk_groups": "t.code",
    "segment_risk_groups": (
        "(SELECT code FROM recor.segments WHERE id = t.segment_id) || ' → ' ||"
        " (SELECT code FROM recor.risk_groups WHERE id = t.risk_group_id)"
    ),
}
#: The new version's stamp, written here so the stamp trigger has nothing to do (0011).
_STAMP = sql.SQL("valid_from = now(), batch_id = (SELECT recor.current_batch())")
_SUMMARY_FIELD = {
    "sites": "sites",
    "segments": "segments",
    "risk_groups": "risk_groups",
    "segment_risk_groups": "links",
}


def list_batches(conn: psycopg.Connection) -> pd.DataFrame:
    """Every import batch, newest first, with its provenance and outcome."""
    import pandas as pd

    rows = conn.execute(
        "SELECT id, started_at, finished_at, app_user, db_user, profile, outcome::text, counts,"
        " source_files, note, undoes, undone_by FROM recor.import_batches"
        " WHERE outcome <> 'running' ORDER BY id DESC"
    ).fetchall()
    return pd.DataFrame(
        rows,
        columns=[
            "id",
            "started_at",
            "finished_at",
            "app_user",
            "db_user",
            "profile",
            "outcome",
            "counts",
            "source_files",
            "note",
            "undoes",
            "undone_by",
        ],
    )


def history(conn: psycopg.Connection, code: str, *, entity: str | None = None) -> gpd.GeoDataFrame:
    """Every version of one site, segment or shared-risk group, oldest first.

    Parameters
    ----------
    code
        The business code.
    entity
        ``"sites"``, ``"segments"`` or ``"risk_groups"``; None looks in each, in that order
        of likelihood (segments, sites, shared-risk groups). The frame's ``attrs["entity"]``
        says where the code was found.

    Returns
    -------
    GeoDataFrame
        The row's columns plus ``valid_from``, ``valid_to`` (None for the current version),
        ``batch_id`` (made by), ``ended_by_batch`` and ``retired``.
    """
    import geopandas as gpd
    import pandas as pd
    import shapely

    if entity is None:
        for candidate in ("segments", "sites", "risk_groups"):
            try:
                return history(conn, code, entity=candidate)
            except NotFound:
                continue
        raise NotFound(f"no segment, site or shared-risk group with code {code!r} in the registry")
    if entity not in {"sites", "segments", "risk_groups"}:
        raise NotFound(f"no entity {entity!r}: expected sites, segments or risk_groups")
    columns = [c for c in _DATA_COLUMNS[entity] if c != "geom"]
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in ("id", "code", *columns, "valid_from"))
    has_geom = "geom" in _DATA_COLUMNS[entity]
    geom = sql.SQL(", ST_AsBinary(geom)") if has_geom else sql.SQL("")
    query = sql.SQL(
        "SELECT {cols}, NULL::timestamptz, batch_id, NULL::bigint{geom} FROM recor.{t}"
        " WHERE code = %(code)s UNION ALL"
        " SELECT {cols}, valid_to, batch_id, ended_by_batch{geom} FROM recor.{h}"
        " WHERE code = %(code)s ORDER BY valid_from"
    ).format(cols=cols, geom=geom, t=sql.Identifier(entity), h=sql.Identifier(f"{entity}_history"))
    rows = conn.execute(query, {"code": code}).fetchall()
    if not rows:
        raise NotFound(f"no {entity.rstrip('s')} with code {code!r} in the registry")
    names = ["id", "code", *columns, "valid_from", "valid_to", "batch_id", "ended_by_batch"]
    frame = pd.DataFrame([r[: len(names)] for r in rows], columns=names)
    geometry = shapely.from_wkb([r[-1] for r in rows]) if has_geom else None
    versions = gpd.GeoDataFrame(frame, geometry=geometry, crs=STORAGE_CRS)
    versions.attrs["entity"] = entity
    return versions


def undo_batch(
    conn: psycopg.Connection, batch_id: int, *, user: str = "", wait: LockWait | None = None
) -> LoadSummary:
    """Restore the registry to its state before ``batch_id``, as a new batch.

    Rows the batch added are retired, rows it changed or retired get their previous version
    back. Nothing is erased: the undo is itself recorded in history and can be read "as of".
    Refused when a later batch changed the same rows (undo that one first). ``wait``
    bounds the wait for another writer's lock.
    """
    info = BatchInfo(profile="undo", user=user, note=f"undo of batch {batch_id}")
    summary = LoadSummary(batch_id=None, dry_run=False)
    try:
        with (
            writing(conn, user=user, wait=wait) as writer,
            batch_transaction(conn, info) as undo_id,
        ):
            _check_undoable(conn, batch_id)
            bulk_work_mem(conn)
            for table in _DATA_COLUMNS:
                setattr(summary, _SUMMARY_FIELD[table], _undo_table(conn, table, batch_id))
            conn.execute("SELECT recor.mark_undone(%s, %s)", (batch_id, undo_id))
            finish_batch(conn, undo_id, summary, outcome="undo")
            summary.batch_id = undo_id
        summary.commit_note = writer.commit_note
    except psycopg.Error as exc:
        raise registry_error(exc) from exc
    return summary


def _check_undoable(conn: psycopg.Connection, batch_id: int) -> None:
    row = conn.execute(
        "SELECT outcome::text, undone_by FROM recor.import_batches WHERE id = %s", (batch_id,)
    ).fetchone()
    if row is None:
        raise NotFound(f"no import batch {batch_id}")
    if row[0] != "loaded":
        raise UndoRefused(f"batch {batch_id} is {row[0]}; only a loaded batch can be undone")
    for table in _DATA_COLUMNS:
        later = conn.execute(
            sql.SQL(
                # Only a later batch can have ended a version of this one (0018).
                "SELECT {label}, t.ended_by_batch FROM recor.{h} t"
                " WHERE t.batch_id = %(b)s AND t.ended_by_batch > %(b)s LIMIT 1"
            ).format(
                label=sql.SQL(_LABELS[table]),  # type: ignore[arg-type]
                h=sql.Identifier(f"{table}_history"),
            ),
            {"b": batch_id},
        ).fetchone()
        if later:
            raise UndoRefused(
                f"cannot undo batch {batch_id}: {table} {later[0]} was changed again by batch "
                f"{later[1]}; undo batch {later[1]} first"
            )


def _undo_table(conn: psycopg.Connection, table: str, batch_id: int) -> EntityCounts:
    columns = _DATA_COLUMNS[table]
    keys = _KEYS[table]
    on_key = sql.SQL(" AND ").join(
        sql.SQL("h.{k} = t.{k}").format(k=sql.Identifier(k)) for k in keys
    )
    restored = conn.execute(
        sql.SQL(
            "UPDATE recor.{t} t SET ({cols}) = ROW({hcols}), {stamp} FROM recor.{h} h"
            " WHERE {on_key} AND h.ended_by_batch = %(b)s AND t.batch_id = %(b)s"
            " RETURNING {label}"
        ).format(
            t=sql.Identifier(table),
            h=sql.Identifier(f"{table}_history"),
            cols=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
            hcols=sql.SQL(", ").join(sql.SQL("h.{}").format(sql.Identifier(c)) for c in columns),
            on_key=on_key,
            label=sql.SQL(_LABELS[table]),  # type: ignore[arg-type]
            stamp=_STAMP,
        ),
        {"b": batch_id},
    ).fetchall()
    retired = conn.execute(
        sql.SQL(
            "UPDATE recor.{t} t SET retired = true, {stamp} WHERE t.batch_id = %(b)s"
            " AND NOT t.retired RETURNING {label}"
        ).format(
            t=sql.Identifier(table),
            label=sql.SQL(_LABELS[table]),  # type: ignore[arg-type]
            stamp=_STAMP,
        ),
        {"b": batch_id},
    ).fetchall()
    return EntityCounts(
        changed=sorted(r[0] for r in restored), retired=sorted(r[0] for r in retired)
    )
