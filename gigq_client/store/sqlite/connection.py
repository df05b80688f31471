"""Opening a SQLite job store: checks, pragmas, migrations, and error translation."""

from __future__ import annotations

import os
import sqlite3
from importlib import resources
from typing import Optional

from ...errors import (
    DatabaseLocked,
    GigqError,
    ReadOnlyStore,
    SchemaVersionError,
    StoreError,
    StoreFull,
)
from .turns import TurnMissed, Turns

SYNCHRONOUS_LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")
# A checkpoint fsyncs; at SQLite's default of 1,000 pages a commit of a few pages
# triggers one every few hundred commits, about 30% of a submit's cost. Workers
# also checkpoint whenever they go idle, so the WAL rarely grows this far.
WAL_AUTOCHECKPOINT_PAGES = 10_000
MINIMUM_SQLITE = (3, 35, 0)  # RETURNING


def migrations() -> list[tuple[int, str]]:
    """(version, sql) of every migration shipped with this release, in order."""
    folder = resources.files("gigq_client.store.sqlite") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text()))
    return sorted(found)


LATEST_VERSION = max(version for version, _ in migrations())


def check_path(path: str) -> None:
    """Refuse, before SQLite touches anything, a path that cannot be a job store."""
    if sqlite3.sqlite_version_info < MINIMUM_SQLITE:
        raise StoreError(f"SQLite {sqlite3.sqlite_version} is too old: gigq needs 3.35 or newer")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise StoreError(f"cannot open {path}: directory {directory} does not exist")
    if os.path.isdir(path):
        raise StoreError(f"cannot open {path}: it is a directory, not a database file")
    # The file's header is left for SQLite to check (translate() names the problem): this
    # process must never open and close the database file itself, since closing any
    # descriptor of a file drops every POSIX lock the process holds on it, SQLite's own
    # included. Another JobQueue's read lock gone, a daemon's last connection could
    # checkpoint and delete the -wal and -shm under it: that queue then read a stale
    # copy of the database until it closed (test_worker_start saw no daemon for 30 s).


def create_private(path: str, mode: int) -> None:
    """Create the database file with `mode` so it never exists with looser rights."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode))
    except FileExistsError:
        pass
    except PermissionError:
        raise ReadOnlyStore(f"cannot create {path}: permission denied") from None


def connect(path: str, busy_timeout: float, synchronous: str) -> sqlite3.Connection:
    if synchronous.upper() not in SYNCHRONOUS_LEVELS:
        raise StoreError(f"synchronous must be one of {', '.join(SYNCHRONOUS_LEVELS)}, got {synchronous!r}")
    try:
        conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
    except sqlite3.Error as error:
        raise translate(error, path, busy_timeout) from None
    return conn


def enable_wal(conn: sqlite3.Connection, path: str, busy_timeout: float) -> None:
    try:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    except sqlite3.Error as error:
        raise translate(error, path, busy_timeout) from None
    if mode.lower() != "wal":
        raise StoreError(f"{path}: could not switch to WAL mode (got {mode!r})")


def migrate(conn: sqlite3.Connection, path: str, busy_timeout: float) -> int:
    """Apply the migrations the database lacks; refuse a database from a newer release."""
    current = schema_version(conn, path, busy_timeout)
    if current == LATEST_VERSION:
        return current
    with transaction(conn, path, busy_timeout):
        current = conn.execute("PRAGMA user_version").fetchone()[0]  # re-read under the lock
        _refuse_newer(current, path)
        for version, sql in migrations():
            if version > current:
                for statement in _statements(sql):
                    conn.execute(statement)
                if version == 1:
                    _add_legacy_columns(conn)
                conn.execute(f"PRAGMA user_version = {version}")
    return LATEST_VERSION


def _add_legacy_columns(conn: sqlite3.Connection) -> None:
    """Databases from GigQ before 0.5 lack columns that 0.5.1 added at open time."""
    present = {row[1] for row in conn.execute("PRAGMA table_info(jobs)")}
    added = (("pass_parent_results", "INTEGER"), ("retry_delay", "INTEGER DEFAULT 0"), ("retry_after", "TEXT"))
    for column, kind in added:
        if column not in present:
            conn.execute(f"ALTER TABLE jobs ADD COLUMN {column} {kind}")


def schema_version(conn: sqlite3.Connection, path: str, busy_timeout: float) -> int:
    try:
        current = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error as error:
        raise translate(error, path, busy_timeout) from None
    _refuse_newer(current, path)
    return current


def _refuse_newer(current: int, path: str) -> None:
    if current > LATEST_VERSION:
        raise SchemaVersionError(
            f"{path} has schema version {current}, newer than this release understands "
            f"({LATEST_VERSION}); upgrade gigqd. The database was left untouched."
        )


def _statements(sql: str) -> list[str]:
    """Split a migration into statements (our migrations hold no ';' inside strings)."""
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]


class transaction:
    """One write transaction, taking the write lock at BEGIN so it cannot deadlock on upgrade.
    (A class rather than a generator: it runs on every submit and claim.)"""

    __slots__ = ("conn", "path", "busy_timeout", "turns")

    def __init__(self, conn: sqlite3.Connection, path: str, busy_timeout: float, turns: Optional[Turns] = None):
        self.conn, self.path, self.busy_timeout, self.turns = conn, path, busy_timeout, turns

    def __enter__(self) -> sqlite3.Connection:
        if self.turns is not None and not self.turns.take():
            raise DatabaseLocked(_locked(self.path, self.busy_timeout))
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            self._unqueue()
            raise translate(error, self.path, self.busy_timeout) from None
        return self.conn

    def __exit__(self, kind, error, traceback) -> bool:
        try:
            return self._end(kind, error)
        finally:
            self._unqueue()

    def _unqueue(self) -> None:
        if self.turns is not None:
            self.turns.give()

    def _end(self, kind, error) -> bool:
        if kind is None:
            try:
                self.conn.execute("COMMIT")
                return False
            except sqlite3.Error as commit_error:
                _rollback(self.conn)
                raise translate(commit_error, self.path, self.busy_timeout) from commit_error
        _rollback(self.conn)
        if isinstance(error, sqlite3.Error):
            raise translate(error, self.path, self.busy_timeout) from error
        return False


def write_one(conn: sqlite3.Connection, path: str, busy_timeout: float, turns: Optional[Turns], sql: str,
              args: tuple) -> int:
    """One statement as a transaction of its own, in our turn: SQLite commits it when it
    ends. A write statement outside BEGIN takes the write lock before it reads anything,
    as BEGIN IMMEDIATE does, so it cannot deadlock on upgrade either; it saves the two
    round trips of BEGIN and COMMIT (a tenth of a submit). Returns the rows changed.
    Being one call, it may be made by the turn's helper thread the moment the turn comes."""

    def statement() -> int:
        try:
            return conn.execute(sql, args).rowcount
        except sqlite3.Error:
            _rollback(conn)
            raise

    try:
        return statement() if turns is None else turns.run(statement)
    except TurnMissed:
        raise DatabaseLocked(_locked(path, busy_timeout)) from None
    except sqlite3.Error as error:
        raise translate(error, path, busy_timeout) from None


def _rollback(conn: sqlite3.Connection) -> None:
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass  # SQLite already rolled back (e.g. after SQLITE_FULL)


def _not_writable(path: str) -> str:
    """The first of the files SQLite needs for writing that this process may not write."""
    directory = os.path.dirname(os.path.abspath(path))
    for candidate in (path, path + "-wal", path + "-shm"):
        if os.path.exists(candidate) and not os.access(candidate, os.R_OK | os.W_OK):
            return candidate
    return directory if not os.access(directory, os.W_OK) else ""


def _locked(path: str, busy_timeout: float) -> str:
    return f"{path} stayed locked by another connection for longer than the busy timeout ({busy_timeout:g} s)"


def translate(error: sqlite3.Error, path: str, busy_timeout: float) -> GigqError:
    """Turn a sqlite3 error into a GigqError whose message names the problem."""
    message = str(error).lower()
    if "locked" in message or "busy" in message:
        return DatabaseLocked(_locked(path, busy_timeout))
    if "full" in message or "disk i/o" in message:
        return StoreFull(f"cannot write to {path}: the disk is full or the file size limit was reached ({error})")
    if "readonly" in message or "read-only" in message:
        return ReadOnlyStore(f"cannot write to {path}: the database or its directory is read-only")
    if "not a database" in message:
        return StoreError(f"{path} is not a SQLite database (wrong file header); it was left untouched")
    if "malformed" in message:
        return StoreError(f"{path} is not a usable SQLite database ({error})")
    if "unable to open" in message:
        blocked = _not_writable(path)
        if blocked:
            return ReadOnlyStore(f"cannot write to {path}: {blocked} is read-only for this user "
                                 "(the database, its -wal and -shm files and its directory must be writable)")
        return StoreError(f"cannot open {path}: {error}")
    return StoreError(f"{path}: {error}")
