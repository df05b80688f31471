"""SqliteStore: the job store on one SQLite file (WAL), one connection per thread and process."""

from __future__ import annotations

import os
import sqlite3
import threading
from typing import Any

from ... import forks
from ...errors import StoreError
from ..base import JobListener, Store
from . import connection, turns
from .claims import ClaimOperations
from .doorbell import DatagramListener, Doorbell
from .manage import ManageOperations
from .registry import RegistryOperations
from .submit import SubmitOperations
from .walindex import WalIndex

DEFAULT_BUSY_TIMEOUT = 10.0
DEFAULT_SYNCHRONOUS = "NORMAL"
DEFAULT_FILE_MODE = 0o600
# WAL frames (pages) not yet copied back after which a worker copies them, outside the
# write turn; SQLite's own checkpoint, inside a commit, comes at WAL_AUTOCHECKPOINT_PAGES.
CHECKPOINT_BACKLOG_FRAMES = 2500  # 10 MB of 4 KiB pages: a few checkpoints a second in the busiest drain

# Connections inherited through fork() are kept alive here, never used or closed:
# closing one in the child could disturb the parent's locks and WAL index.
_INHERITED: list[sqlite3.Connection] = []


class SqliteStore(SubmitOperations, ClaimOperations, ManageOperations, RegistryOperations, Store):
    """A Store on a SQLite database file."""

    def __init__(
        self,
        path: str,
        initialize: bool = True,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        synchronous: str = DEFAULT_SYNCHRONOUS,
        file_mode: int = DEFAULT_FILE_MODE,
        queue_writes: str | bool = turns.BOUNDED,
    ):
        """queue_writes: how this store's writers take turns for the write lock (see turns.py).
        "bounded" (the default) waits at most busy_timeout for its turn; "unbounded" waits
        however long it takes (pooled workers: nothing else to do meanwhile, and they keep
        heartbeating);
        "off" keeps only SQLite's busy timeout (a process that forks: no helper thread)."""
        self.path = os.fspath(path)
        self.busy_timeout = busy_timeout
        self.synchronous = synchronous
        self._local = threading.local()
        self._known_queues: set[str] = set()  # queue names this process has recorded
        self._queue_writes, self._file_mode = turns.mode_of(queue_writes), file_mode
        self._doorbell = Doorbell(self.daemons)
        self._wal_index = WalIndex(self.path)
        self._open_schema(initialize)

    def _open_schema(self, initialize: bool) -> None:
        """Create and migrate the file (initialize), or insist it is already a store at the latest schema."""
        connection.check_path(self.path)
        if initialize:
            connection.create_private(self.path, self._file_mode)
        elif not os.path.exists(self.path):
            raise StoreError(f"{self.path} does not exist (initialize=False creates nothing)")
        conn = self._conn
        connection.schema_version(conn, self.path, self.busy_timeout)  # refuses a newer schema, untouched
        if initialize:
            connection.enable_wal(conn, self.path, self.busy_timeout)
            connection.migrate(conn, self.path, self.busy_timeout)
        elif connection.schema_version(conn, self.path, self.busy_timeout) != connection.LATEST_VERSION:
            raise StoreError(f"{self.path} is not initialised as a job store; open it with initialize=True")

    @property
    def _conn(self) -> sqlite3.Connection:
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is not None and local.pid == forks.pid:
            return conn
        if conn is not None:
            _INHERITED.append(conn)
        local.conn = connection.connect(self.path, self.busy_timeout, self.synchronous)
        local.pid = forks.pid
        # One place in the write queue per thread and process: flock excludes per open file.
        mode = self._queue_writes
        patience = self.busy_timeout if mode == turns.BOUNDED else None
        local.turns = turns.open_turns(self.path, self._file_mode, patience) if mode != turns.OFF else None
        return local.conn

    def _write(self) -> connection.transaction:
        conn = self._conn
        return connection.transaction(conn, self.path, self.busy_timeout, self._local.turns)

    def _write_one(self, sql: str, args: tuple) -> int:
        conn = self._conn
        return connection.write_one(conn, self.path, self.busy_timeout, self._local.turns, sql, args)

    def _read(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> list[tuple]:
        try:
            return self._conn.execute(sql, args).fetchall()
        except sqlite3.Error as error:
            raise connection.translate(error, self.path, self.busy_timeout) from None

    def checkpoint(self) -> None:
        """Copy the WAL into the database without waiting for anyone, writers included."""
        self._read("PRAGMA wal_checkpoint(PASSIVE)")

    def checkpoint_due(self) -> bool:
        return self._wal_index.due(CHECKPOINT_BACKLOG_FRAMES)

    def change_counter(self) -> int:
        return self._read("PRAGMA data_version")[0][0]

    def notify_new_jobs(self) -> None:
        self._doorbell.ring()

    def listen_for_jobs(self, name: str) -> JobListener:
        return DatagramListener(name)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == forks.pid:
            conn.close()
            if self._local.turns is not None:
                self._local.turns.close()
        self._local.conn = None

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"
