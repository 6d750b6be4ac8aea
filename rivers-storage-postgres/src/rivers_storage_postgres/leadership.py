"""Leadership held by a server session: a PostgreSQL advisory lock on a dedicated connection.

The storage contract's leases (``acquire_lease``) are rows with an expiry on
the server's clock: a crashed leader is replaced once its lease expires.
:class:`AdvisoryLeadership` is the session-bound alternative for daemons
that can keep one connection open: the lock is the server's
``pg_try_advisory_lock``, so exactly one session in the database holds a
name, and the server releases it the moment the holder's connection ends
(process killed, machine gone, network cut) — failover without waiting for
an expiry. It needs a real session (not pgBouncer in transaction mode).

    leadership = storage.advisory_leadership("daemon")
    if leadership.try_acquire():
        ...  # lead; leadership.held stays True while the connection lives
    leadership.release()
"""

from __future__ import annotations

import threading

import psycopg

from rivers.exceptions import StorageError
from rivers_storage_postgres.connections import Connector

__all__ = ["AdvisoryLeadership"]

#: Advisory lock class (two-int form) of leadership locks; the second int is a hash of schema and name.
_LOCK_LEADERSHIP = 3


class AdvisoryLeadership:
    """The leadership ``name`` of one schema, tried and held on a connection of its own."""

    def __init__(self, connector: Connector, lock_class: int, schema: str, name: str) -> None:
        if connector.settings.pool_size == 0:
            raise StorageError(
                f"PostgreSQL storage {connector.settings.display()}: advisory leadership needs a session of its own, "
                "which pool=off (pgBouncer in transaction mode) does not keep; use acquire_lease() instead"
            )
        self.name = name
        self._connector = connector
        self._key = (lock_class + _LOCK_LEADERSHIP, f"{schema}:{name}")
        self._conn: psycopg.Connection | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"AdvisoryLeadership({self.name!r}, held={self.held})"

    def try_acquire(self) -> bool:
        """Take the leadership if no other session holds it; whether this one holds it now."""
        with self._lock:
            if self._held_unlocked():
                return True
            if self._conn is None or self._conn.closed:
                self._conn = self._connector.first_connection()
            try:
                row = self._conn.execute(
                    "SELECT pg_try_advisory_lock(%s, hashtext(%s))", self._key
                ).fetchone()
            except psycopg.Error as error:
                self._drop()
                raise self._connector.translate(error) from None
            return bool(row and row[0])

    @property
    def held(self) -> bool:
        """Whether this object holds the leadership (its session is alive and owns the lock)."""
        with self._lock:
            return self._held_unlocked()

    def _held_unlocked(self) -> bool:
        if self._conn is None or self._conn.closed:
            return False
        try:
            row = self._conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
                "AND classid = %s::oid AND objid = hashtext(%s)::oid AND granted",
                self._key,
            ).fetchone()
        except psycopg.Error:
            self._drop()  # the session is gone, and with it the lock
            return False
        return bool(row and row[0])

    def release(self) -> None:
        """Give the leadership up: unlock at once (then close the session, which would release it too)."""
        with self._lock:
            if self._conn is not None and not self._conn.closed:
                try:
                    self._conn.execute("SELECT pg_advisory_unlock_all()")
                except psycopg.Error:
                    pass  # the session is gone: so is the lock
            self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
