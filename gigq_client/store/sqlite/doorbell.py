"""Wake-ups on SQLite: a datagram to each daemon's abstract UNIX socket, named in the database.

Ringing is a hint, never a requirement: with no daemon running, or a stale entry,
the datagram goes nowhere and the submit has still succeeded (workers also poll).
"""

from __future__ import annotations

import socket
import time
from typing import Callable, Optional

from ... import forks
from ..base import DaemonInfo, JobListener

REFRESH_SECONDS = 1.0  # how long the list of daemons to ring is reused


class Doorbell:
    """The ringing side, one per store object: sends one datagram to each daemon."""

    def __init__(self, daemons: Callable[[], list[DaemonInfo]]):
        self._daemons = daemons
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
                self._paths = [d.doorbell_path for d in self._daemons() if d.doorbell_path]
            except Exception:  # a hint must never fail a submit that has been stored
                self._paths = []
        return self._paths

    def _sender(self) -> socket.socket:
        if self._socket is None or self._pid != forks.pid:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._socket.setblocking(False)
            self._pid = forks.pid
        return self._socket


class DatagramListener(JobListener):
    """The daemon's side: an abstract socket "@name" (no file, gone with its process).

    Shared by fork: the daemon's idle workers wait on it themselves, so a ring wakes
    them with no process in between, and while every worker is busy nobody waits on
    it and a ring wakes no one (the kernel keeps a few datagrams, then refuses more:
    the ringer ignores that, and the first worker to go idle claims first anyway).
    Every idle worker wakes on a ring; the first to drain it claims, and a worker whose
    claim may have left jobs behind passes a ring on, for a sibling that missed it."""

    shared_by_fork = True

    def __init__(self, name: str):
        self.address = "@" + name
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(_address(self.address))
        self._socket.setblocking(False)

    def fileno(self) -> int:
        return self._socket.fileno()

    def drain(self) -> bool:
        rang = False
        try:
            while True:
                self._socket.recv(64)
                rang = True
        except OSError:  # BlockingIOError: nothing more to read (non-blocking for every process sharing it)
            return rang

    def pass_on(self) -> None:
        try:
            self._socket.sendto(b"j", _address(self.address))
        except OSError:
            pass  # the socket is full of rings: someone will wake all the same

    def fds(self) -> list[int]:
        return [self._socket.fileno()] if self._socket.fileno() >= 0 else []

    def close(self) -> None:
        self._socket.close()


def _address(path: str) -> str:
    """"@name" is a Linux abstract socket: no file, no permissions, gone with its daemon."""
    return "\0" + path[1:] if path.startswith("@") else path
