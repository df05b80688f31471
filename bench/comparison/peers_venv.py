"""The peers' own venv (bench/.peers-venv): gigq 0.5.1 and huey, kept apart from the project.

The project's venv cannot hold them: its `gigq` console script is gigqd's, and the
project installs gigq only for its compatibility tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .systems import BENCH

VENV = os.path.join(BENCH, ".peers-venv")
PYTHON = os.path.join(VENV, "bin", "python")
REQUIREMENTS = ["gigq==0.5.1", "huey"]
VERSIONS = ("import importlib.metadata as m, json, sqlite3; "
            "print(json.dumps({'gigq': m.version('gigq'), 'huey': m.version('huey'), "
            "'sqlite': sqlite3.sqlite_version}))")


class PeersVenvError(Exception):
    pass


def installed_versions() -> dict | None:
    if not os.path.exists(PYTHON):
        return None
    found = subprocess.run([PYTHON, "-c", VERSIONS], capture_output=True, text=True, timeout=60)
    if found.returncode != 0:
        return None
    versions = json.loads(found.stdout)
    return versions if versions["gigq"] == "0.5.1" else None


def ensure() -> dict:
    """Create or reuse the venv; returns the installed versions."""
    versions = installed_versions()
    if versions is not None:
        return versions
    print(f"setting up {os.path.relpath(VENV)} (pip install {' '.join(REQUIREMENTS)}) ...", flush=True)
    steps = []
    if not os.path.exists(PYTHON):
        steps.append([sys.executable, "-m", "venv", VENV])
    steps.append([PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *REQUIREMENTS])
    for argv in steps:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise PeersVenvError(f"{' '.join(argv)} failed:\n{done.stdout}{done.stderr}")
    versions = installed_versions()
    if versions is None:
        raise PeersVenvError(f"{VENV} still lacks gigq 0.5.1 and huey after pip install")
    return versions
