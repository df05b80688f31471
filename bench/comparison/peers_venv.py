"""The peers' own venvs, kept apart from the project's: bench/.peers-venv (gigq 0.5.1 and
huey) for the SQLite comparison, and, through the same PeersVenv, bench/.pg-peers-venv for
the PostgreSQL one (bench/postgres/peers_venv.py).

The project's venv cannot hold them: its `gigq` console script is gigqd's, the project
installs gigq only for its compatibility tests, and its psycopg and test tools must not
move. Each venv is created on the first run with pip from PyPI and reused afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Callable

from .systems import BENCH


class PeersVenvError(Exception):
    pass


class PeersVenv:
    def __init__(self, path: str, requirements: list, versions_probe: str, usable: Callable[[dict], bool]):
        """versions_probe: Python code run in the venv that prints its versions as JSON;
        usable: whether those versions are the ones wanted (else pip installs again)."""
        self.path, self.python = path, os.path.join(path, "bin", "python")
        self.requirements, self.versions_probe, self.usable = requirements, versions_probe, usable

    def installed_versions(self) -> dict | None:
        if not os.path.exists(self.python):
            return None
        found = subprocess.run([self.python, "-c", self.versions_probe], capture_output=True, text=True, timeout=60)
        if found.returncode != 0:
            return None
        versions = json.loads(found.stdout)
        return versions if self.usable(versions) else None

    def ensure(self) -> dict:
        """Create or reuse the venv; returns the installed versions."""
        versions = self.installed_versions()
        if versions is not None:
            return versions
        print(f"setting up {os.path.relpath(self.path)} (pip install {' '.join(self.requirements)}) ...",
              file=sys.stderr, flush=True)
        steps = []
        if not os.path.exists(self.python):
            steps.append([sys.executable, "-m", "venv", self.path])
        steps.append([self.python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                      *self.requirements])
        for argv in steps:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                raise PeersVenvError(f"{' '.join(argv)} failed:\n{done.stdout}{done.stderr}")
        with open(os.path.join(self.path, ".gitignore"), "w") as ignore:
            ignore.write("*\n")  # nothing of it is ever committed
        versions = self.installed_versions()
        if versions is None:
            raise PeersVenvError(f"{self.path} still lacks {', '.join(self.requirements)} after pip install")
        return versions


_SQLITE_PEERS = PeersVenv(
    os.path.join(BENCH, ".peers-venv"), ["gigq==0.5.1", "huey"],
    "import importlib.metadata as m, json, sqlite3; "
    "print(json.dumps({'gigq': m.version('gigq'), 'huey': m.version('huey'), 'sqlite': sqlite3.sqlite_version}))",
    lambda versions: versions["gigq"] == "0.5.1")
PYTHON = _SQLITE_PEERS.python
ensure = _SQLITE_PEERS.ensure
