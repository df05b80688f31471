"""Shared fixtures: every test gets real SQLite files in its own temporary directory,
and the store contract tests run once per backend."""

from __future__ import annotations

import os
import sys
import time
from typing import Callable

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from gigq_client import JobQueue  # noqa: E402
from gigq_client.store import SqliteStore, Store  # noqa: E402

BACKENDS = ("sqlite",)


@pytest.fixture
def db_path(tmp_path) -> str:
    return str(tmp_path / "jobs.db")


@pytest.fixture
def queue(db_path) -> JobQueue:
    q = JobQueue(db_path)
    yield q
    q.close()


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def new_store_location(backend, tmp_path) -> Callable[[], str]:
    """Makes the address of a new, empty store of the backend under test."""
    names = iter(range(1_000_000))
    return lambda: str(tmp_path / f"store-{next(names)}.db")


@pytest.fixture
def make_store(backend, new_store_location) -> Callable[[], Store]:
    """Opens a fresh store of the backend under test on each call; all are closed at the end."""
    opened: list[Store] = []

    def make() -> Store:
        opened.append(SqliteStore(new_store_location()))
        return opened[-1]

    yield make
    for each in opened:
        each.close()


@pytest.fixture
def store_location(new_store_location) -> str:
    """Where the `store` fixture's store lives, for tests that open it again elsewhere."""
    return new_store_location()


@pytest.fixture
def store(store_location) -> Store:
    """The store under contract test, one run per backend."""
    opened = SqliteStore(store_location)
    yield opened
    opened.close()


@pytest.fixture
def other_store(store, store_location) -> Store:
    """A second store object on the same database as `store`, as another process opens it."""
    opened = SqliteStore(store_location)
    yield opened
    opened.close()


def wait_for(condition: Callable[[], object], timeout: float = 10.0, interval: float = 0.01, what: str = "condition"):
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
