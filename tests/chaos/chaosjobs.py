"""The job the chaos runs submit (workers import it by name: tests.chaos.chaosjobs:mark)."""

from __future__ import annotations

import os
import time


def mark(log: str, token: str, ms: float = 0.0) -> dict:
    """Record this run as one line "token pid epoch-seconds" in `log`, then work `ms` milliseconds.

    The line goes out in one write(2) on an O_APPEND descriptor, so concurrent runs
    never interleave; it is written before the work, so a run killed during its
    work is still counted as a run.
    """
    pid = os.getpid()
    line = f"{token} {pid} {time.time():.6f}\n".encode()
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    if ms > 0:
        time.sleep(ms / 1000.0)
    return {"token": token, "pid": pid}
