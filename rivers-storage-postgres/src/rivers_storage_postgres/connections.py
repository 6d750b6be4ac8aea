"""Connections to the server: a bounded pool shared by threads (or none), transactions retried on connection loss.

:class:`Connector` runs every storage operation as one transaction through
:meth:`Connector.run`:

* With ``pool_size > 0`` connections come from a ``psycopg_pool``
  connection pool of at most ``pool_size`` connections, shared by every
  thread of the process (a thread waits for a free connection; the pool
  never opens more). With ``pool_size == 0`` (pgBouncer in transaction
  mode) each operation opens a connection and closes it; server-side
  prepared statements are switched off, and nothing relies on session state.
* A lost connection (server restart, network failure, a connection slot
  not free yet) is retried with exponential backoff and jitter, for at most
  ``retry_timeout`` seconds. A transaction that failed before its
  ``COMMIT`` was sent is simply run again. When the connection breaks
  during ``COMMIT`` the outcome is unknown to the client; the connector
  asks the server about the transaction id it read at the start
  (``pg_xact_status``), and runs it again only if it did not commit. A run
  in progress therefore survives a server restart without losing or
  duplicating events; past ``retry_timeout`` the operation fails with
  :class:`~rivers.exceptions.StorageError`.
* Errors are translated into :class:`StorageError` naming the database and
  host (never the password): wrong password, unknown database, server
  unreachable, connection limit reached, statement timeout.
* After ``fork()`` the child never touches its parent's connections (it
  would close the parent's sessions): it opens its own on first use.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final, TypeVar

import psycopg
from psycopg import errors, sql
from psycopg_pool import ConnectionPool, PoolTimeout

from rivers.exceptions import StorageError
from rivers_storage_postgres.settings import PostgresSettings

__all__ = ["Connector", "OperationFailed"]

_T = TypeVar("_T")
_log = logging.getLogger("rivers.storage.postgres")

#: SQLSTATE classes/codes after which a new connection may succeed.
_TRANSIENT_STATES: Final = ("08", "57P01", "57P02", "57P03", "53300", "40001", "40P01")
_FIRST_DELAY: Final = 0.05
_MAX_DELAY: Final = 2.0

# Pools and connections inherited through fork() must be neither used nor closed by the child.
_abandoned: list[object] = []
_live_connectors: weakref.WeakSet[Connector] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for connector in list(_live_connectors):
        connector._forget_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class OperationFailed(StorageError):
    """A storage operation failed on the server (the message names database, host and cause)."""


def _sqlstate(error: BaseException) -> str:
    return getattr(error, "sqlstate", None) or ""


#: Causes told apart in connection failures, which libpq reports as text, without a SQLSTATE.
_CAUSE_TEXTS: Final = (
    ("auth", ("authentication failed", "no password supplied", "no pg_hba.conf entry")),
    ("no_database", ("does not exist",)),
    ("limit", ("too many connections", "remaining connection slots are reserved")),
)
_CAUSE_STATES: Final = {"28P01": "auth", "28000": "auth", "3D000": "no_database", "53300": "limit",
                        "57014": "timeout"}


def _cause(error: BaseException) -> str:
    """``auth``, ``no_database``, ``limit``, ``timeout``, ``transient`` (a new attempt may work) or ``other``."""
    if isinstance(error, PoolTimeout):
        return "transient"
    state = _sqlstate(error)
    if state in _CAUSE_STATES:
        return _CAUSE_STATES[state]
    if state:
        return "transient" if state.startswith(_TRANSIENT_STATES[0]) or state in _TRANSIENT_STATES[1:] else "other"
    if isinstance(error, psycopg.OperationalError):  # the connection itself failed
        text = str(error)
        for cause, needles in _CAUSE_TEXTS:
            if any(needle in text for needle in needles):
                return cause
        return "transient"
    return "other"


def _is_transient(error: BaseException) -> bool:
    """Whether a new attempt (on a new connection) may succeed."""
    return _cause(error) in ("transient", "limit")


class _CommitUnknown(Exception):
    """The connection broke while ``COMMIT`` was in flight; ``xid`` tells whether it committed."""

    def __init__(self, xid: str, cause: BaseException, result: object) -> None:
        super().__init__(str(cause))
        self.xid = xid
        self.cause = cause
        self.result = result


class Connector:
    """Connections of one storage object (see the module docstring)."""

    def __init__(self, settings: PostgresSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._pool: ConnectionPool | None = None
        self._closed = False
        self._pid = os.getpid()
        #: connections checked out right now, and the most at once (for the benchmark's bound check)
        self.in_use = 0
        self.peak_in_use = 0
        self._listener: psycopg.Connection | None = None
        self._listener_pid = 0
        _live_connectors.add(self)

    # -- connections ----------------------------------------------------------------

    def _kwargs(self) -> dict[str, Any]:
        kwargs = self.settings.connect_kwargs()
        if self.settings.pool_size == 0:
            kwargs["prepare_threshold"] = None  # pgBouncer transaction mode: no server-side prepared statements
        return kwargs

    def connect(self, *, autocommit: bool = False) -> psycopg.Connection:
        """A new connection, outside the pool (errors translated)."""
        try:
            conn = psycopg.connect(autocommit=autocommit, **self._kwargs())
        except psycopg.Error as error:
            raise self.translate(error, connecting=True) from None
        self._configure(conn)
        return conn

    def first_connection(self) -> psycopg.Connection:
        """A new autocommit connection, retried with backoff while the failure is transient.

        Wrong credentials or an unknown database fail at once; an
        unreachable server or a full connection limit are retried for
        ``retry_timeout`` seconds.
        """
        deadline = time.monotonic() + self.settings.retry_timeout
        delay = _FIRST_DELAY
        attempt = 0
        while True:
            attempt += 1
            try:
                return psycopg.connect(autocommit=True, **self._kwargs())
            except psycopg.Error as error:
                if not _is_transient(error):
                    raise self.translate(error, connecting=True) from None
                if time.monotonic() + delay > deadline:
                    raise self.translate(error, connecting=True, gave_up=attempt) from None
                self._log_retry(error, delay, attempt)
            time.sleep(delay * (0.5 + random.random() / 2))
            delay = min(delay * 2, _MAX_DELAY)

    def _log_retry(self, error: BaseException, delay: float, attempt: int) -> None:
        _log.warning("%s: %s; retrying in %.2f s (attempt %d)", self.settings.display(),
                     self.settings.scrub(str(error).strip()) or type(error).__name__, delay, attempt)

    def _configure(self, conn: psycopg.Connection) -> None:
        timeout = self.settings.statement_timeout
        if timeout is not None and self.settings.pool_size > 0:
            conn.execute(sql.SQL("SET statement_timeout = {}").format(sql.Literal(f"{round(timeout * 1000)}ms")))
            if not conn.autocommit:
                conn.commit()

    def _get_pool(self) -> ConnectionPool:
        with self._lock:
            if self._closed:
                raise StorageError(f"PostgreSQL storage {self.settings.display()} is closed; connect again")
            if self._pid != os.getpid():
                self._forget_after_fork()
            if self._pool is None:
                size = self.settings.pool_size
                self._pool = ConnectionPool(
                    kwargs=self._kwargs(), min_size=1, max_size=size, open=True, configure=self._configure,
                    timeout=min(self.settings.retry_timeout, self.settings.connect_timeout) or 1.0,
                    name=f"rivers:{self.settings.display()}", num_workers=1,
                    reconnect_timeout=max(self.settings.retry_timeout, 1.0),
                )
            return self._pool

    def open_pool(self) -> None:
        """Create the pool now (it connects in the background); nothing without a pool."""
        if self.settings.pool_size > 0:
            self._get_pool()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A connection for one operation: from the pool, or a new one without a pool."""
        if self.settings.pool_size == 0:
            if self._closed:
                raise StorageError(f"PostgreSQL storage {self.settings.display()} is closed; connect again")
            conn = psycopg.connect(**self._kwargs())  # errors reach run(), which retries the transient ones
            try:
                yield conn
            finally:
                conn.close()
            return
        pool = self._get_pool()
        with pool.connection() as conn:
            with self._lock:
                self.in_use += 1
                self.peak_in_use = max(self.peak_in_use, self.in_use)
            try:
                yield conn
            finally:
                with self._lock:
                    self.in_use -= 1

    def listen(self, channel: str) -> psycopg.Connection:
        """This storage's listening connection (autocommit, ``LISTEN channel``), outside the pool.

        Only :meth:`PostgresStorage.wait_for_events` uses it, under its own
        lock; it is the one connection beyond ``pool_size``.
        """
        if self._listener is None or self._listener.closed or self._listener_pid != os.getpid():
            if self._listener is not None and self._listener_pid != os.getpid():
                _abandoned.append(self._listener)
            conn = self.first_connection()
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            self._listener, self._listener_pid = conn, os.getpid()
        return self._listener

    def drop_listener(self) -> None:
        """Forget a listening connection that failed (the next :meth:`listen` opens a new one)."""
        conn, self._listener = self._listener, None
        if conn is not None and self._listener_pid == os.getpid():
            conn.close()

    def _forget_after_fork(self) -> None:
        """In a forked child: drop the parent's pool without closing its connections."""
        if self._pool is not None:
            _abandoned.append(self._pool)
        self._pool = None
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self.in_use = 0

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None and self._pid == os.getpid():
            pool.close()
        self.drop_listener()

    @property
    def closed(self) -> bool:
        return self._closed

    # -- transactions ------------------------------------------------------------------

    def run(self, operation: Callable[[psycopg.Connection], _T], *, write: bool = True) -> _T:
        """Run ``operation(conn)`` in one transaction and commit; retried on connection loss.

        ``write=False`` marks a read: it is retried however it failed, and no
        transaction id is taken.
        """
        deadline = time.monotonic() + self.settings.retry_timeout
        delay = _FIRST_DELAY
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(operation, write)
            except _CommitUnknown as unknown:
                committed = self._committed(unknown.xid, deadline)
                if committed:
                    _log.warning("%s: the connection broke during COMMIT; the transaction had committed",
                                 self.settings.display())
                    return unknown.result  # type: ignore[return-value]
                error: BaseException = unknown.cause
            except (psycopg.Error, PoolTimeout) as failure:
                if isinstance(failure, PoolTimeout):
                    self._diagnose()  # the pool hides why it has no connection: raises a permanent cause
                elif not _is_transient(failure):
                    raise self.translate(failure) from None
                error = failure
            if time.monotonic() + delay > deadline:
                raise self.translate(error, gave_up=attempt) from None
            self._log_retry(error, delay, attempt)
            time.sleep(delay * (0.5 + random.random() / 2))
            delay = min(delay * 2, _MAX_DELAY)
            if self._pool is not None:
                self._pool.check()  # drop the other connections the server closed too

    def _attempt(self, operation: Callable[[psycopg.Connection], _T], write: bool) -> _T:
        with self.connection() as conn:
            xid = ""
            try:
                if self.settings.pool_size == 0 and self.settings.statement_timeout is not None:
                    conn.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(
                        sql.Literal(f"{round(self.settings.statement_timeout * 1000)}ms")))
                if write:
                    xid = str(conn.execute("SELECT pg_current_xact_id()").fetchone()[0])  # type: ignore[index]
                result = operation(conn)
            except BaseException:
                if not conn.broken:
                    conn.rollback()
                raise
            try:
                conn.commit()
            except psycopg.Error as error:
                if write and conn.broken:
                    raise _CommitUnknown(xid, error, result) from error
                raise
            return result

    def _diagnose(self) -> None:
        """Connect outside the pool once: raise at once if the cause is permanent (password, database)."""
        try:
            psycopg.connect(autocommit=True, **self._kwargs()).close()
        except psycopg.Error as error:
            if not _is_transient(error):
                raise self.translate(error, connecting=True) from None

    def _committed(self, xid: str, deadline: float) -> bool:
        """Whether transaction ``xid`` committed (asked on a new connection, retried until ``deadline``)."""
        delay = _FIRST_DELAY
        while True:
            try:
                with self.connection() as conn:
                    row = conn.execute("SELECT pg_xact_status(%s::xid8)", (xid,)).fetchone()
                    conn.rollback()
                return bool(row and row[0] == "committed")
            except (psycopg.Error, PoolTimeout) as error:
                if not _is_transient(error) or time.monotonic() + delay > deadline:
                    raise self.translate(error) from None
                time.sleep(delay)
                delay = min(delay * 2, _MAX_DELAY)

    # -- errors ---------------------------------------------------------------------------

    def translate(self, error: BaseException, *, connecting: bool = False, gave_up: int = 0) -> StorageError:
        """A :class:`StorageError` for ``error`` naming database and host, without credentials."""
        settings = self.settings
        where = settings.where()
        cause = _cause(error)
        detail = settings.scrub(str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__)
        if isinstance(error, PoolTimeout):
            detail = f"no connection from the pool of {settings.pool_size} ({detail})"
        if cause == "auth":
            source = "the URL's password" if settings.has_password else "PGPASSWORD, ~/.pgpass or RIVERS_STORAGE_PASSWORD"
            what = "no password supplied" if "no password supplied" in detail else "authentication failed"
            message = (f"PostgreSQL storage: {what} for user '{settings.user or os.environ.get('PGUSER', '')}'"
                       f" to {where}; check {source}")
        elif cause == "no_database":
            message = (f"PostgreSQL storage: {where} does not exist; create it (createdb) "
                       f"or fix the database name in the storage URL ({detail})")
        elif cause == "limit":
            message = (f"PostgreSQL storage: connection limit reached on {where} ({detail}); "
                       "lower pool_size, use pgBouncer, or raise max_connections / the role's CONNECTION LIMIT")
        elif cause == "timeout":
            timeout = f" ({settings.statement_timeout:g} s)" if settings.statement_timeout else ""
            message = (f"PostgreSQL storage: statement timeout{timeout} on {where}: {detail}; "
                       "raise statement_timeout in the storage settings or look for a lock held elsewhere")
        elif connecting or cause == "transient":
            message = f"PostgreSQL storage: cannot reach {where}: {detail}"
        else:
            message = f"PostgreSQL storage on {where}: {detail}"
        if gave_up:
            message += f" (gave up after {gave_up} attempts in {settings.retry_timeout:g} s)"
        return OperationFailed(message)
