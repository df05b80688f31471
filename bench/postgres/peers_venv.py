"""The PostgreSQL peers' own venv (bench/.pg-peers-venv): pgqueuer and procrastinate.

Kept apart from the project's venv (whose psycopg and test tools must not move) and
from bench/.peers-venv (gigq 0.5.1 and Huey, for the SQLite comparison). Created on
the first run with pip from PyPI, the versions pinned so that a run measures what the
docs report; reused afterwards.
"""

from __future__ import annotations

import os

from comparison.peers_venv import PeersVenv, PeersVenvError  # noqa: F401 - PeersVenvError: callers catch it here

from .paths import BENCH

# asyncpg is pgqueuer's own recommended driver; procrastinate's PsycopgConnector needs psycopg's pool.
# typer: with 0.29 `pgq run` crashes at start (its --log-level default arrives as a str,
# not pgqueuer's LogLevel); 0.15.4 is within pgqueuer's own range (typer>=0.15.1).
PINNED = {"pgqueuer": "1.6.0", "asyncpg": "0.32.0", "procrastinate": "3.10.0", "psycopg": "3.3.9", "typer": "0.15.4"}
REQUIREMENTS = [f"pgqueuer=={PINNED['pgqueuer']}", f"asyncpg=={PINNED['asyncpg']}", f"typer=={PINNED['typer']}",
                f"procrastinate=={PINNED['procrastinate']}", f"psycopg[binary,pool]=={PINNED['psycopg']}"]
VERSIONS = ("import importlib.metadata as m, json; "
            f"print(json.dumps({{name: m.version(name) for name in {sorted(PINNED)!r}}}))")


_PG_PEERS = PeersVenv(os.path.join(BENCH, ".pg-peers-venv"), REQUIREMENTS, VERSIONS,
                     lambda versions: versions == PINNED)
VENV, PYTHON = _PG_PEERS.path, _PG_PEERS.python
ensure = _PG_PEERS.ensure
