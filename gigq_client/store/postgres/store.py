"""PostgresStore: the job store on a PostgreSQL database, one connection per thread and process."""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable, Hashable, TypeVar

from ... import fdwait
from ..base import JobListener, Store
from . import connection, migrate
from .claims import ClaimOperations
from .listen import CHANNEL, PostgresListener
from .manage import ManageOperations
from .registry import RegistryOperations
from .submit import SubmitOperations

T = TypeVar("T")
RETRIES = 3  # runs of a transaction the server rolled back for a deadlock or serialization failure
DAEMONS_REFRESH = 1.0  # seconds a "some daemon is registered" answer is reused before notifying
# NOTIFY takes a lock for the whole database cluster from its transaction's commit until
# the commit is flushed: without the flush (a lost hint is harmless) it is held briefly.
_NOTIFY = f"BEGIN; SET LOCAL synchronous_commit = off; NOTIFY {CHANNEL}; COMMIT"


class PostgresStore(SubmitOperations, ClaimOperations, ManageOperations, RegistryOperations, Store):
    """A Store on a PostgreSQL database named by a postgresql:// URL."""

    crosses_machines = True

    def __init__(self, url: str, initialize: bool = True, connect_timeout: float = connection.DEFAULT_CONNECT_TIMEOUT):
        self._psycopg = connection.driver()  # DriverMissing before anything else
        self.url = url
        self.where = connection.describe(url)
        self.connect_timeout = connect_timeout
        self._local = threading.local()
        self._known_queues: set[str] = set()  # queue names this process has recorded
        self._daemons_seen = (float("-inf"), False)
        try:
            (migrate.migrate if initialize else migrate.require_latest)(self._conn, self.where)
        except self._psycopg.Error as error:
            raise connection.translate(error, url) from None

    @property
    def _conn(self) -> Any:
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is not None and local.pid == os.getpid() and _usable(conn):
            return conn
        # A connection inherited through fork() is dropped, never closed: closing it would
        # end the parent's session (psycopg does not close it when collected in a child).
        local.conn = None
        local.conn = connection.connect(self.url, self.connect_timeout)
        local.pid = os.getpid()
        return local.conn

    def _read(self, sql: str, args: Any = ()) -> list[tuple]:
        try:
            return connection.cursor(self._conn).execute(sql, args).fetchall()
        except self._psycopg.Error as error:
            raise connection.translate(error, self.url) from None

    def _execute(self, sql: str, args: Any = ()) -> int:
        """One writing statement, a transaction by itself (autocommit); the rows it changed."""
        return self._autocommit(lambda conn: connection.cursor(conn).execute(sql, args).rowcount)

    def _autocommit(self, work: Callable[[Any], T]) -> T:
        """Run `work(conn)`, each of its statements a transaction by itself."""
        return self._retrying(work)

    def _transact(self, work: Callable[[Any], T]) -> T:
        """Run `work(conn)` in one transaction."""
        def in_transaction(conn: Any) -> T:
            with conn.transaction():
                return work(conn)

        return self._retrying(in_transaction)

    def _retrying(self, work: Callable[[Any], T]) -> T:
        """`work(conn)`, again if the server chose it as a deadlock's victim (it rolled back)."""
        for attempt in range(RETRIES):
            try:
                return work(self._conn)
            except self._psycopg.Error as error:
                if not connection.retryable(error) or attempt == RETRIES - 1:
                    raise connection.translate(error, self.url) from None
        raise AssertionError("unreachable")

    def checkpoint(self) -> None:
        """Nothing to do: the server looks after its own write-ahead log."""

    def checkpoint_due(self) -> bool:
        return False

    def change_counter(self) -> Hashable:
        # The snapshot changes whenever a transaction that wrote commits (or a new one
        # starts writing), and never lies: a commit after this read changes the next one.
        return self._read("SELECT pg_current_snapshot()::text")[0][0]

    def notify_new_jobs(self) -> None:
        try:
            if not self._daemons_registered():
                return
            conn = self._conn
            try:
                conn.execute(_NOTIFY)
            except self._psycopg.Error:
                _rollback(conn)
        except Exception:  # a hint must never fail a submit that has been stored
            pass

    def _daemons_registered(self) -> bool:
        checked_at, registered = self._daemons_seen
        now = time.monotonic()
        if now - checked_at > DAEMONS_REFRESH:
            registered = bool(self._read("SELECT EXISTS (SELECT 1 FROM daemons)")[0][0])
            self._daemons_seen = (now, registered)
        return registered

    def listen_for_jobs(self, name: str) -> JobListener:
        return PostgresListener(self.url, self.connect_timeout)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            conn.close()
        self._local.conn = None

    def __repr__(self) -> str:
        return f"PostgresStore({self.where!r})"


def _usable(conn: Any) -> bool:
    """False for a connection that broke, or that the server wrote to while it sat idle:
    nothing is sent to an idle session of ours but its end (a restart, pg_terminate_backend),
    so the caller opens a new connection instead of failing on this one."""
    if conn.closed or conn.broken:
        return False
    try:
        readable = fdwait.readable(conn.fileno(), 0)
    except (OSError, ValueError):
        return False
    if readable:
        conn.close()
    return not readable


def _rollback(conn: Any) -> None:
    try:
        conn.execute("ROLLBACK")
    except Exception:
        pass
