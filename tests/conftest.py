"""Shared fixtures: every test gets real SQLite files in its own temporary directory."""

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
from gigq_client.store import SqliteStore  # noqa: E402

BACKENDS = {"sqlite": lambda path: SqliteStore(path)}


@pytest.fixture
def db_path(tmp_path) -> str:
    return str(tmp_path / "jobs.db")


@pytest.fixture
def queue(db_path) -> JobQueue:
    q = JobQueue(db_path)
    yield q
    q.close()


@pytest.fixture(params=sorted(BACKENDS))
def store(request, db_path):
    """The store under contract test, one run per backend."""
    opened = BACKENDS[request.param](db_path)
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
