"""The job the chaos runs submit (workers import it by name: tests.chaos.chaosjobs:mark)."""

from __future__ import annotations

import os
import time


def mark(log: str, token: str, ms: float = 0.0) -> dict:
    """Record this run in `log` as "token pid epoch-seconds", work `ms` milliseconds,
    then record that its body finished: "token pid epoch-seconds end".

    Each line goes out in one write(2) on an O_APPEND descriptor, so concurrent runs
    never interleave; the first is written before the work, so a run killed during
    its work is still counted as a run, and the last one is the job's last act, so a
    body that finished twice (its side effects done twice) shows as two end lines.
    """
    pid = os.getpid()
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{token} {pid} {time.time():.6f}\n".encode())
        if ms > 0:
            time.sleep(ms / 1000.0)
        os.write(fd, f"{token} {pid} {time.time():.6f} end\n".encode())
    finally:
        os.close(fd)
    return {"token": token, "pid": pid}
