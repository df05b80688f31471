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
from gigq_client.store import Store, open_store  # noqa: E402
from tests import postgres_server  # noqa: E402

BACKENDS = ("sqlite", "postgres")


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


@pytest.fixture(scope="session")
def postgres() -> postgres_server.Databases:
    """The session's PostgreSQL server (GIGQ_TEST_POSTGRES_URL's, or a throwaway one started
    now and stopped at the end), as a maker of fresh databases."""
    url, server = postgres_server.start_server()
    databases = postgres_server.Databases(url, server)
    yield databases
    databases.drop_all()
    if server is not None:
        server.remove()


@pytest.fixture
def postgres_url(postgres) -> str:
    """A fresh database of its own, migrated to the latest schema, dropped after the test."""
    url = postgres.new()
    yield url
    postgres.drop(url)


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on."""
    return postgres_server.free_port()


@pytest.fixture
def new_store_location(backend, tmp_path, request) -> Callable[[], str]:
    """Makes the address of a new, empty store of the backend under test: a file path for
    SQLite, the URL of a database of its own for PostgreSQL."""
    if backend == "sqlite":
        names = iter(range(1_000_000))
        yield lambda: str(tmp_path / f"store-{next(names)}.db")
        return
    databases = request.getfixturevalue("postgres")
    made: list[str] = []

    def new() -> str:
        made.append(databases.new())
        return made[-1]

    yield new
    for url in made:
        databases.drop(url)


@pytest.fixture
def make_store(backend, new_store_location, request) -> Callable[[], Store]:
    """Opens an empty store on each call, for tests that need many in a row (a Hypothesis
    example each). On PostgreSQL it empties one database rather than making another (making
    one takes 0.2 s), so a store from an earlier call must not be used after the next call."""
    opened: list[Store] = []
    location = new_store_location() if backend == "postgres" else None

    def make() -> Store:
        if location is None:
            opened.append(open_store(new_store_location()))
        else:
            request.getfixturevalue("postgres").empty(location)
            opened.append(open_store(location))
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
    opened = open_store(store_location)
    yield opened
    opened.close()


@pytest.fixture
def other_store(store, store_location) -> Store:
    """A second store object on the same database as `store`, as another process opens it."""
    opened = open_store(store_location)
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
