"""A path or URL -> the right store. PostgreSQL's driver is imported only for a postgresql:// URL."""

from __future__ import annotations

import os
from typing import Any, Union

from .base import Store

URL_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(location: Union[str, os.PathLike]) -> bool:
    return isinstance(location, str) and location.lower().startswith(URL_SCHEMES)


def open_store(location: Union[str, os.PathLike], **options: Any) -> Store:
    """A PostgresStore for "postgresql://..." or "postgres://...", else a SqliteStore on the file.
    `options` go to the store's constructor (e.g. initialize; busy_timeout for SQLite)."""
    if is_postgres_url(location):
        from .postgres.connection import driver

        driver()  # DriverMissing, saying what to install, before the store module is imported
        from .postgres import PostgresStore

        return PostgresStore(str(location), **options)
    from .sqlite import SqliteStore

    return SqliteStore(os.fspath(location), **options)


def describe_location(location: Union[str, os.PathLike]) -> str:
    """The store's location as it may be logged or shown: a URL without its password."""
    if is_postgres_url(location):
        from .postgres.connection import describe

        return describe(str(location))
    return os.fspath(location)
