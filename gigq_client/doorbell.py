"""Best-effort wake-up of running daemons after a submit.

Each daemon listens on a UNIX datagram socket named in the database. Ringing it
is a hint, never a requirement: with no daemon running, or a stale entry, the
datagram goes nowhere and the submit has still succeeded (workers also poll).
"""

from __future__ import annotations

import socket
import time
from typing import Optional

from . import forks
from .store import Store

REFRESH_SECONDS = 1.0


class Doorbell:
    def __init__(self, store: Store):
        self._store = store
        self._paths: list[str] = []
        self._refreshed = float("-inf")
        self._socket: Optional[socket.socket] = None
        self._pid = 0

    def ring(self) -> None:
        for path in self._doorbells():
            try:
                self._sender().sendto(b"j", _address(path))
            except OSError:
                pass  # no daemon there, or its buffer is full: it is awake anyway

    def _doorbells(self) -> list[str]:
        now = time.monotonic()
        if now - self._refreshed > REFRESH_SECONDS:
            self._refreshed = now
            try:
                self._paths = [d.doorbell_path for d in self._store.daemons() if d.doorbell_path]
            except Exception:  # a hint must never fail a submit that has been stored
                self._paths = []
        return self._paths

    def _sender(self) -> socket.socket:
        if self._socket is None or self._pid != forks.pid:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._socket.setblocking(False)
            self._pid = forks.pid
        return self._socket


def _address(path: str) -> str:
    """"@name" is a Linux abstract socket: no file, no permissions, gone with its daemon."""
    return "\0" + path[1:] if path.startswith("@") else path
