"""Job functions shared by every system in bench/compare.py.

Each job appends two lines to the file named by the BENCH_JOB_LOG environment
variable, with one O_APPEND write each (atomic for lines this short):

    S <index> <start time.time()> <submit time.time() or 0> <pid>
    E <index> <end time.time()> <pid>

They take the four params users typically send (a 40-character path, an int and two
floats: see payload()), so every system stores, sends and decodes such a payload.

The harness reads these lines to see when a drain is done and to pair a job's
start with the moment it was submitted. Only the standard library is used, so
the module imports the same way in the project's venv and in the peers' venv.
"""

from __future__ import annotations

import os
import time

_FDS: dict = {}  # (pid, path) -> file descriptor, opened once per process


def _fd() -> int:
    path = os.environ["BENCH_JOB_LOG"]
    key = (os.getpid(), path)
    fd = _FDS.get(key)
    if fd is None:
        fd = _FDS[key] = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    return fd


def _mark(line: str) -> None:
    os.write(_fd(), line.encode())


def path_for(i: int) -> str:
    """A 40-character file path, different for every job, as a job that processes a file gets."""
    return f"/srv/app/uploads/2026/11/im-{i:08d}.jpg"


def payload(i: int, t: float) -> dict:
    """The params of job i: a path, an int, a float, and t (submit time, or 0.0)."""
    return {"path": path_for(i), "i": i, "x": i / 3, "t": t}


def noop(path: str = "", i: int = 0, x: float = 0.0, t: float = 0.0) -> None:
    """Does nothing but record its start and end."""
    _mark(f"S {i} {time.time()!r} {t!r} {os.getpid()}\n")
    _mark(f"E {i} {time.time()!r} {os.getpid()}\n")


def sleep10(path: str = "", i: int = 0, x: float = 0.0, t: float = 0.0) -> None:
    """Sleeps 10 ms between recording its start and end."""
    _mark(f"S {i} {time.time()!r} {t!r} {os.getpid()}\n")
    time.sleep(0.01)
    _mark(f"E {i} {time.time()!r} {os.getpid()}\n")
