from __future__ import annotations

import pytest

from tests.integration.daemon import Daemon


@pytest.fixture
def make_daemon(tmp_path):
    started: list[Daemon] = []

    def make(**settings) -> Daemon:
        daemon = Daemon(tmp_path, **settings)
        started.append(daemon)
        return daemon

    yield make
    for daemon in started:
        daemon.kill_everything()
