"""The schema of a PostgreSQL job store: numbered migrations, applied once, by one process at a time."""

from __future__ import annotations

from importlib import resources
from typing import Any

from ...errors import SchemaVersionError, StoreError

VERSION_TABLE = "gigq_schema_version"
# pg_advisory_xact_lock key ("gigq" in ASCII): processes starting together migrate in turn,
# and the lock goes with the transaction, even if the process dies holding it.
MIGRATION_LOCK = 0x67696771


def migrations() -> list[tuple[int, str]]:
    """(version, sql) of every migration shipped with this release, in order."""
    folder = resources.files("gigq_client.store.postgres") / "migrations"
    found = [(int(entry.name.split("_", 1)[0]), entry.read_text()) for entry in folder.iterdir()
             if entry.name.endswith(".sql")]
    return sorted(found)


LATEST_VERSION = max(version for version, _ in migrations())


def schema_version(conn: Any, where: str) -> int:
    """The database's schema version (0: not a job store yet); refuses a newer one."""
    present = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (VERSION_TABLE,)).fetchone()[0]
    current = conn.execute(f"SELECT coalesce(max(version), 0) FROM {VERSION_TABLE}").fetchone()[0] if present else 0
    _refuse_newer(current, where)
    return current


def migrate(conn: Any, where: str) -> None:
    """Apply the migrations the database lacks, all in one transaction."""
    if schema_version(conn, where) == LATEST_VERSION:
        return
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} ("
                     "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
        current = schema_version(conn, where)  # re-read under the lock: another process may have done it
        for version, sql in migrations():
            if version > current:
                conn.execute(sql)
                conn.execute(f"INSERT INTO {VERSION_TABLE} (version) VALUES (%s)", (version,))


def require_latest(conn: Any, where: str) -> None:
    """For initialize=False: the database must already be a job store of this release."""
    if schema_version(conn, where) != LATEST_VERSION:
        raise StoreError(f"{where} is not initialised as a job store; open it with initialize=True")


def _refuse_newer(current: int, where: str) -> None:
    if current > LATEST_VERSION:
        raise SchemaVersionError(
            f"{where} has schema version {current}, newer than this release understands "
            f"({LATEST_VERSION}); upgrade gigqd. The database was left untouched."
        )
