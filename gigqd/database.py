"""The daemon's database, by the `db` setting: a SQLite path or a postgresql:// URL.

Every gigqd process opens its own store through here after it starts (never across
a fork), with the options that apply to its backend.
"""

from __future__ import annotations

import hashlib
import os
import tempfile

from gigq_client.store import Store, describe_location, is_postgres_url, open_store
from gigq_client.store.sqlite import turns

from . import files
from .settings import Settings


def is_url(db: str) -> bool:
    return is_postgres_url(db)


def not_created_yet(db: str) -> bool:
    """A SQLite file that does not exist yet: the first daemon or submit will make it."""
    return not is_url(db) and not os.path.exists(db)


def open_for(settings: Settings, queue_writes: str = "bounded") -> Store:
    """The store `settings.db` names; SQLite's own settings go to SQLite only (queue_writes:
    how this process takes its turn for SQLite's write lock, see store/sqlite/turns.py)."""
    if is_url(settings.db):
        return open_store(settings.db)
    return open_store(settings.db, busy_timeout=settings.busy_timeout, synchronous=settings.synchronous,
                      queue_writes=queue_writes)


# The supervisor's store calls wait at most this long for SQLite's write lock. Its loop
# must go on turning: a worker frozen (SIGSTOP, a frozen cgroup) while it holds the lock
# keeps every writer waiting until the watchdog kills it, and the lock goes with it. A
# duty that could not write in time logs it and tries again on its next turn.
LOOP_BUSY_TIMEOUT = 1.0


def open_for_supervisor(settings: Settings) -> Store:
    """The supervisor's store: created and migrated with the patience of any client, then
    used with LOOP_BUSY_TIMEOUT (SQLite; a server's locks are not waited on this way)."""
    # "off": no helper thread in the process that forks the workers.
    store = open_for(settings, queue_writes="off")
    if is_url(settings.db) or settings.busy_timeout <= LOOP_BUSY_TIMEOUT:
        return store
    store.close()
    return open_store(settings.db, initialize=False, busy_timeout=LOOP_BUSY_TIMEOUT, synchronous=settings.synchronous,
                      queue_writes="off")


def location(db: str) -> str:
    """`db` as absolute path, or the URL as given (never rewritten: it may hold a password)."""
    return db if is_url(db) else os.path.abspath(db)


def shown(db: str) -> str:
    """`db` as it may be logged or shown in a process title: a URL without its password."""
    return describe_location(db)


def control_socket(settings: Settings) -> str:
    """socket_path, or where the control socket goes by default (see beside)."""
    return settings.socket_path or beside(settings.db, ".sock")


def beside(db: str, suffix: str) -> str:
    """A file of the daemon's (socket, log, pid) by default: next to a SQLite database;
    for a URL, in the temporary folder under a name made from the database's address."""
    if not is_url(db):
        return os.path.abspath(db) + suffix
    digest = hashlib.sha256(shown(db).encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"gigqd-{digest}{suffix}")


def share_with_group(settings: Settings) -> None:
    """socket_group on SQLite: the database's files, and the lock file clients take
    their turns on, open to that group (a server's access is the server's business)."""
    if is_url(settings.db):
        return
    turns.create_lock_file(settings.db, files.PRIVATE)
    for suffix in ("", "-wal", "-shm", ".lock"):
        if os.path.exists(settings.db + suffix):
            files.share_with_group(settings.db + suffix, settings.socket_group)
