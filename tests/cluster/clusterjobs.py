"""The job of the cluster runs (workers import it: tests.cluster.clusterjobs:run).

Each run appends "S token host pid time overlap" when it starts and "E token host pid
time" as its last act to the shared log. Before it starts it takes an exclusive
flock on a file named after its token: the kernel lets go of it the moment the
process dies, whatever killed it, so if another run of the same job on any test host
still lives, the lock is taken and the line says overlap=1. (The test hosts share
one kernel and one file system, which is what makes this exact.)
"""

from __future__ import annotations

import fcntl
import os
import socket
import time


def run(log: str, token: str, ms: float = 0.0) -> dict:
    host, pid = socket.gethostname(), os.getpid()
    lock = os.open(os.path.join(log + ".locks", token), os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            overlap = 0
        except BlockingIOError:
            overlap = 1
        _line(log, f"S {token} {host} {pid} {time.time():.6f} {overlap}")
        if ms > 0:
            time.sleep(ms / 1000.0)
        _line(log, f"E {token} {host} {pid} {time.time():.6f}")
    finally:
        os.close(lock)
    return {"token": token, "host": host}


def _line(log: str, text: str) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (text + "\n").encode())
    finally:
        os.close(fd)
