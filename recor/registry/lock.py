"""The registry's write lock: one writer at a time, a bounded wait, a truthful commit.

The lock is a row lock on ``recor.write_lock`` taken by ``recor.take_write_lock()``, an
owner-rights function only ``recor_editor`` may execute (migration 0005): a role without
write rights cannot take it, so it cannot block imports. A writer waits in short slices of
``lock_timeout``; between slices it says whom it waits for (the holder publishes batch, user
and start time in its ``application_name``, which every role can read) and it gives up after
:attr:`LockWait.timeout_s`. When the connection drops while committing, the outcome is asked
of the server on a new connection (``pg_xact_status`` of the transaction id) instead of
being guessed.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from recor.errors import CommitUncertain, RegistryBusy, RegistryError

__all__ = [
    "LockHolder",
    "LockWait",
    "WriteTransaction",
    "current_writer",
    "lock_holder",
    "write_transaction",
    "writing",
]

log = logging.getLogger(__name__)

#: First wait slice (seconds): a free lock is taken at once, a held one is reported quickly.
_FIRST_SLICE_S = 0.1
#: Later slices: how often a waiting writer checks who holds the lock.
_SLICE_S = 1.0
#: After a lost commit, how long to wait for the server to finish the transaction.
_RESOLVE_S = 10.0

_WRITERS: weakref.WeakKeyDictionary[psycopg.Connection, WriteTransaction] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True)
class LockHolder:
    """The session holding the write lock, as it announced itself."""

    pid: int
    db_user: str
    app_user: str
    batch_id: int | None
    since: datetime | None

    def describe(self) -> str:
        """One line: batch, user, database role, since when."""
        batch = f"batch {self.batch_id}" if self.batch_id is not None else "an import being checked"
        user = self.app_user or "?"
        since = f" since {self.since:%Y-%m-%d %H:%M:%S} UTC" if self.since else ""
        return f"{batch} of {user} (role {self.db_user}, server process {self.pid}){since}"


@dataclass(frozen=True)
class LockWait:
    """How a writer waits for the lock.

    Parameters
    ----------
    timeout_s
        Give up after this many seconds (``ImportSettings.lock_timeout_s``).
    on_wait
        Called with the holder (None when it cannot be seen) and the seconds waited so far,
        once when the wait starts and again whenever the holder changes.
    """

    timeout_s: float = 300.0
    on_wait: Callable[[LockHolder | None, float], None] | None = None


@dataclass
class WriteTransaction:
    """The open transaction of one user action, holding the write lock."""

    generation: int
    txid: str
    commit_note: str = ""


def current_writer(conn: psycopg.Connection) -> WriteTransaction | None:
    """The write transaction open on ``conn`` (None when there is none)."""
    writer = _WRITERS.get(conn)
    if writer is None or conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        return None
    return writer


@contextmanager
def write_transaction(
    conn: psycopg.Connection, *, user: str = "", wait: LockWait | None = None
) -> Iterator[WriteTransaction]:
    """Open one transaction holding the registry's write lock; commit it on leaving.

    Parameters
    ----------
    conn
        A connection with no transaction open.
    user
        Who is writing, announced to waiting writers.
    wait
        Timeout and wait reports (default: 300 s, silent).

    Yields
    ------
    WriteTransaction
        ``generation`` is the newest committed batch when the lock was granted: a registry
        read made before, at another generation, may be stale.

    Raises
    ------
    RegistryBusy
        The lock was not granted within the timeout.
    CommitUncertain
        The connection dropped while committing and the server could not be asked again.
    RegistryError
        The connection dropped while committing and the server says nothing was written.
    """
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise RegistryError(
            "a registry write needs a connection with no transaction open "
            "(commit or roll back first, or connect with autocommit=True)"
        )
    dsn, password = conn.info.dsn, conn.info.password
    writer: WriteTransaction | None = None
    committing = False
    try:
        with conn.transaction():
            generation = _acquire(conn, user, wait or LockWait())
            row = conn.execute("SELECT pg_current_xact_id()::text").fetchone()
            assert row is not None
            writer = WriteTransaction(generation=generation, txid=row[0])
            _WRITERS[conn] = writer
            yield writer
            committing = True
    except psycopg.OperationalError as exc:
        if not committing or writer is None:
            raise
        writer.commit_note = _resolve_commit(dsn, password, writer.txid, exc)
    finally:
        _WRITERS.pop(conn, None)


@contextmanager
def writing(
    conn: psycopg.Connection, *, user: str = "", wait: LockWait | None = None
) -> Iterator[WriteTransaction]:
    """The write transaction already open on ``conn``, else a new one (see above)."""
    writer = current_writer(conn)
    if writer is not None:
        yield writer
        return
    with write_transaction(conn, user=user, wait=wait) as writer:
        yield writer


def lock_holder(conn: psycopg.Connection) -> LockHolder | None:
    """The session that announced itself as holding the write lock, if any."""
    row = conn.execute(
        "SELECT pid, usename, application_name FROM pg_stat_activity"
        " WHERE datname = current_database() AND application_name LIKE 'recor:w:%%'"
        " AND pid <> pg_backend_pid() ORDER BY pid LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    pid, db_user, announced = row
    _, _, batch, since, app_user = [*announced.split(":", 4), "", "", "", "", ""][:5]
    return LockHolder(
        pid=int(pid),
        db_user=str(db_user or "?"),
        app_user=app_user,
        batch_id=int(batch) if batch.isdigit() else None,
        since=datetime.fromtimestamp(int(since), UTC) if since.isdigit() else None,
    )


def _acquire(conn: psycopg.Connection, user: str, wait: LockWait) -> int:
    """Take the lock in bounded slices, reporting the holder; return the generation."""
    row = conn.execute("SELECT current_setting('lock_timeout')").fetchone()
    previous = row[0] if row else "0"
    start = time.monotonic()
    slice_s = _FIRST_SLICE_S
    reported: LockHolder | bool | None = False
    while True:
        remaining = wait.timeout_s - (time.monotonic() - start)
        ms = max(1, int(min(slice_s, max(remaining, 0.001)) * 1000))
        try:
            with conn.transaction():
                conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{ms}ms",))
                got = conn.execute("SELECT recor.take_write_lock(%s)", (user,)).fetchone()
        except psycopg.errors.LockNotAvailable:
            got = None
        except psycopg.errors.InsufficientPrivilege as exc:
            raise RegistryError(
                "registry refused the change: permission denied to take the write lock"
                f" (role {conn.info.user} is not recor_editor): {exc.diag.message_primary}"
            ) from exc
        if got is not None:
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (previous,))
            return int(got[0])
        waited = time.monotonic() - start
        holder = lock_holder(conn)
        if waited >= wait.timeout_s:
            who = holder.describe() if holder else "another session (not identifiable)"
            raise RegistryBusy(
                f"the registry is busy: its write lock is held by {who}; gave up after "
                f"{wait.timeout_s:g} s (setting imports.lock_timeout_s, flag --lock-timeout);"
                " nothing was written"
            )
        if wait.on_wait is not None and holder != reported:
            wait.on_wait(holder, waited)
            reported = holder
        slice_s = _SLICE_S


def _resolve_commit(dsn: str, password: str | None, txid: str, lost: Exception) -> str:
    """Ask the server, on a new connection, whether transaction ``txid`` committed."""
    deadline = time.monotonic() + _RESOLVE_S
    status: str | None = "in progress"
    try:
        with psycopg.connect(dsn, password=password, autocommit=True) as conn:
            while status == "in progress" and time.monotonic() < deadline:
                row = conn.execute("SELECT pg_xact_status(%s::xid8)", (txid,)).fetchone()
                status = row[0] if row else None
                if status == "in progress":
                    time.sleep(0.1)
    except psycopg.Error as exc:
        raise CommitUncertain(
            f"the connection was lost while committing (transaction {txid}: {lost}) and the"
            f" server could not be asked again ({str(exc).strip().splitlines()[0]}): whether"
            " the change was written is UNKNOWN; check with `recor import list`"
        ) from exc
    if status == "committed":
        log.warning("connection lost at commit; transaction %s did commit", txid)
        return (
            f"the connection was lost while committing; checked on a new connection:"
            f" transaction {txid} committed"
        )
    if status == "aborted":
        raise RegistryError(
            f"the connection was lost while committing; checked on a new connection:"
            f" transaction {txid} was rolled back, nothing was written ({lost})"
        )
    raise CommitUncertain(
        f"the connection was lost while committing (transaction {txid}) and the server"
        f" reports its status as {status or 'unknown'}: whether the change was written is"
        " UNKNOWN; check with `recor import list`"
    )
