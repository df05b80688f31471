"""Daemon fixtures. A test module marked `pytestmark = pytest.mark.both_stores` runs each
of its daemon tests twice: on a SQLite file and on a PostgreSQL database of its own."""

from __future__ import annotations

import pytest

from tests.integration.daemon import Daemon

# What the tests' jobs import. A daemon on PostgreSQL must list them: "*" is refused there.
TEST_MODULES = ["tests", "tasks", "reloadable", "no_such_module"]


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "both_stores: run the module's daemon tests on SQLite and on PostgreSQL")


def pytest_generate_tests(metafunc) -> None:
    if "make_daemon" in metafunc.fixturenames:
        both = metafunc.definition.get_closest_marker("both_stores") is not None
        metafunc.parametrize("daemon_store", ["sqlite", "postgres"] if both else ["sqlite"], indirect=True)


@pytest.fixture
def daemon_store(request) -> str:
    """Where the test's daemon keeps its jobs: "" for a SQLite file in its folder, or a database URL."""
    if request.param == "sqlite":
        return ""
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def make_daemon(tmp_path, daemon_store):
    started: list[Daemon] = []

    def make(**settings) -> Daemon:
        if daemon_store:
            settings.setdefault("allowed_modules", TEST_MODULES)
            settings["db"] = daemon_store
        daemon = Daemon(tmp_path, **settings)
        started.append(daemon)
        return daemon

    yield make
    for daemon in started:
        daemon.kill_everything()
