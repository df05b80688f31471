"""The SQLite store: one database file in WAL mode, shared by every process on the machine."""

from .store import DEFAULT_BUSY_TIMEOUT, DEFAULT_SYNCHRONOUS, SqliteStore

__all__ = ["SqliteStore", "DEFAULT_BUSY_TIMEOUT", "DEFAULT_SYNCHRONOUS"]
