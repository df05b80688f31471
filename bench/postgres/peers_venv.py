"""The PostgreSQL peers' own venv (bench/.pg-peers-venv): pgqueuer and procrastinate.

Kept apart from the project's venv (whose psycopg and test tools must not move) and
from bench/.peers-venv (gigq 0.5.1 and Huey, for the SQLite comparison). Created on
the first run with pip from PyPI, the versions pinned so that a run measures what the
docs report; reused afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .paths import BENCH

VENV = os.path.join(BENCH, ".pg-peers-venv")
PYTHON = os.path.join(VENV, "bin", "python")
# asyncpg is pgqueuer's own recommended driver; procrastinate's PsycopgConnector needs psycopg's pool.
# typer: with 0.29 `pgq run` crashes at start (its --log-level default arrives as a str,
# not pgqueuer's LogLevel); 0.15.4 is within pgqueuer's own range (typer>=0.15.1).
PINNED = {"pgqueuer": "1.6.0", "asyncpg": "0.32.0", "procrastinate": "3.10.0", "psycopg": "3.3.9", "typer": "0.15.4"}
REQUIREMENTS = [f"pgqueuer=={PINNED['pgqueuer']}", f"asyncpg=={PINNED['asyncpg']}", f"typer=={PINNED['typer']}",
                f"procrastinate=={PINNED['procrastinate']}", f"psycopg[binary,pool]=={PINNED['psycopg']}"]
VERSIONS = ("import importlib.metadata as m, json; "
            f"print(json.dumps({{name: m.version(name) for name in {sorted(PINNED)!r}}}))")


class PeersVenvError(Exception):
    pass


def installed_versions() -> dict | None:
    if not os.path.exists(PYTHON):
        return None
    found = subprocess.run([PYTHON, "-c", VERSIONS], capture_output=True, text=True, timeout=60)
    if found.returncode != 0:
        return None
    versions = json.loads(found.stdout)
    return versions if versions == PINNED else None


def ensure() -> dict:
    """Create or reuse the venv; returns the installed versions."""
    versions = installed_versions()
    if versions is not None:
        return versions
    print(f"setting up {os.path.relpath(VENV)} (pip install {' '.join(REQUIREMENTS)}) ...", file=sys.stderr, flush=True)
    steps = []
    if not os.path.exists(PYTHON):
        steps.append([sys.executable, "-m", "venv", VENV])
    steps.append([PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *REQUIREMENTS])
    for argv in steps:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise PeersVenvError(f"{' '.join(argv)} failed:\n{done.stdout}{done.stderr}")
    with open(os.path.join(VENV, ".gitignore"), "w") as ignore:
        ignore.write("*\n")  # made here, not in bench/.gitignore: nothing of it is ever committed
    versions = installed_versions()
    if versions is None:
        raise PeersVenvError(f"{VENV} still lacks {', '.join(REQUIREMENTS)} after pip install")
    return versions
