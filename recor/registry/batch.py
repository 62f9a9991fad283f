"""A user action's batch: opened with its lock and transaction, closed with its outcome.

The helpers a load (:mod:`recor.registry.write`) and an undo (:mod:`recor.registry.history`)
share; this module imports no GIS library, so an undo starts without one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

import psycopg
from psycopg import sql

from recor.errors import RegistryError
from recor.registry.lock import LockWait, writing
from recor.registry.migrate import applied_migrations, available_migrations
from recor.registry.model import BatchInfo, LoadSummary

__all__ = [
    "batch_transaction",
    "bulk_work_mem",
    "finish_batch",
    "record_batch_findings",
    "registry_error",
    "require_current_schema",
]

#: Memory for the sorts, hash joins and trigger transition tables of one load or undo (the
#: default 4 MB spills 200,000 rows to disk); local to the transaction.
_BULK_WORK_MEM = "256MB"


@contextmanager
def batch_transaction(
    conn: psycopg.Connection, info: BatchInfo, *, wait: LockWait | None = None
) -> Iterator[int]:
    """Open the one transaction of a user action and its batch row; yield the batch id.

    Takes the registry's write lock (loads never interleave; ``wait`` bounds the wait) and
    tags every change made in the block with the batch, which only this transaction may
    use. Inside an open :func:`~recor.registry.lock.write_transaction` the batch is opened
    in it, under a savepoint. Leaving the block by an exception rolls the batch back.
    """
    with writing(conn, user=info.user, wait=wait), conn.transaction():
        yield _begin_batch(conn, info)


def _begin_batch(conn: psycopg.Connection, info: BatchInfo) -> int:
    require_current_schema(conn)
    row = conn.execute(
        "SELECT recor.begin_batch(%s, %s, %s, %s, %s)",
        (
            info.user,
            info.profile,
            info.note,
            json.dumps([asdict(f) for f in info.source_files]),
            json.dumps(list(info.findings), default=str),
        ),
    ).fetchone()
    assert row is not None
    if info.input_digest is not None:
        conn.execute("SELECT recor.record_batch_input(%s, %s)", (row[0], info.input_digest))
    return int(row[0])


def record_batch_findings(
    conn: psycopg.Connection, batch_id: int, findings: Sequence[Mapping[str, Any]]
) -> None:
    """Record the findings of a batch that opened with none, before it closes (0020)."""
    conn.execute(
        "SELECT recor.record_batch_findings(%s, %s)",
        (batch_id, json.dumps([dict(f) for f in findings], default=str)),
    )


def require_current_schema(conn: psycopg.Connection) -> None:
    """Refuse to write into a registry whose schema lacks a migration this recor ships.

    The loader and the undo call functions and rely on rules that later migrations add; a
    registry left behind would refuse with a missing function, or worse, accept the write
    without a newer rule. Raises :class:`~recor.errors.RegistryError` naming the migrations
    and the command that applies them.
    """
    applied = applied_migrations(conn)
    missing = [
        f"{m.version:04d}_{m.name}" for m in available_migrations() if m.version not in applied
    ]
    if missing:
        raise RegistryError(
            f"the registry's schema is behind this recor: migration(s) {', '.join(missing)} "
            "not applied; run `recor db upgrade` (as the registry's owner), then write again"
        )


def registry_error(exc: psycopg.Error) -> RegistryError:
    """A database refusal as an error a person can act on (table, rule, row)."""
    diag = exc.diag
    parts = [diag.message_primary or str(exc).strip()]
    if diag.table_name:
        parts.append(f"table {diag.schema_name or 'recor'}.{diag.table_name}")
    if diag.constraint_name:
        parts.append(f"rule {diag.constraint_name}")
    if diag.message_detail:
        parts.append(diag.message_detail)
    return RegistryError("registry refused the change: " + "; ".join(parts))


def bulk_work_mem(conn: psycopg.Connection) -> None:
    """Give the open transaction the memory of a bulk write (sorts, hashes, transition tables)."""
    conn.execute(sql.SQL("SET LOCAL work_mem = {}").format(sql.Literal(_BULK_WORK_MEM)))


def finish_batch(
    conn: psycopg.Connection, batch_id: int, summary: LoadSummary, *, outcome: str
) -> None:
    """Record a batch's counts and outcome (the last write of a load or an undo)."""
    conn.execute(
        "SELECT recor.finish_batch(%s, %s, %s)",
        (batch_id, json.dumps(summary.counts()), outcome),
    )
