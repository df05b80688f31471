"""Wake-ups from clients: after a submit they send a datagram to the daemon's doorbell.

The socket is a Linux abstract UNIX socket named after the daemon ("@gigqd-<id>" in
the daemons table): no file, no permissions to get wrong, gone with the process.
"""

from __future__ import annotations

import socket
from typing import Optional


class Doorbell:
    def __init__(self, daemon_id: str):
        self.name = f"gigqd-{daemon_id}"
        self._socket: Optional[socket.socket] = None

    @property
    def path(self) -> str:
        """How clients find it (gigq_client.doorbell reads it from the daemons table)."""
        return "@" + self.name

    def open(self) -> int:
        """Bind the socket; returns its descriptor for the loop's selector."""
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind("\0" + self.name)
        self._socket.setblocking(False)
        return self._socket.fileno()

    def drain(self) -> None:
        """Read every ring waiting: one wake-up answers them all."""
        try:
            while self._socket.recv(64):
                pass
        except BlockingIOError:
            pass

    def fileno(self) -> Optional[int]:
        return self._socket.fileno() if self._socket is not None else None

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
