"""Signals for the supervisor: handlers only record; the loop reads them and acts.

Python's C-level handler writes each signal's number to the wake-up pipe, which
the supervisor's selector watches; the Python handlers themselves do nothing.
"""

from __future__ import annotations

import os
import signal

HANDLED = (
    signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP,
    signal.SIGTTIN, signal.SIGTTOU, signal.SIGCHLD,
)


class SignalInbox:
    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        os.set_blocking(self.write_fd, False)
        self._previous = {}

    def install(self) -> None:
        signal.set_wakeup_fd(self.write_fd, warn_on_full_buffer=False)
        for signum in HANDLED:
            self._previous[signum] = signal.signal(signum, _record)

    def take(self) -> list[int]:
        """The signals received since the last call, in order."""
        received = []
        while True:
            try:
                data = os.read(self.read_fd, 512)
            except BlockingIOError:
                return received
            if not data:
                return received
            received.extend(data)

    def uninstall(self) -> None:
        signal.set_wakeup_fd(-1)
        for signum, previous in self._previous.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)


def _record(signum, frame) -> None:
    """Nothing to do here: the signal number is already in the wake-up pipe."""

