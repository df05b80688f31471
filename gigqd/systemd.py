"""sd_notify without a dependency: tell systemd we are ready, reloading, stopping or alive."""

from __future__ import annotations

import os
import socket
import time
from typing import Mapping, MutableMapping, Optional

NOTIFY_VARIABLES = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


class Notifier:
    """Speaks the sd_notify protocol on $NOTIFY_SOCKET; outside systemd every call is a no-op returning False.

    Sends never raise and never block: the daemon must outlive a systemd that went away.
    """

    def __init__(self, environ: Optional[Mapping[str, str]] = None) -> None:
        env = os.environ if environ is None else environ
        self.address = _address(env.get("NOTIFY_SOCKET", ""))
        self.watchdog_usec = env.get("WATCHDOG_USEC", "")
        self.watchdog_pid = env.get("WATCHDOG_PID", "")
        self.owner = os.getpid()  # a forked worker's copy of the object must stay silent
        self.last_ping: Optional[float] = None

    @property
    def enabled(self) -> bool:
        return self.address is not None and os.getpid() == self.owner

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1", *([f"STATUS={one_line(status)}"] if status else []))

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={one_line(text)}")

    def reloading(self) -> bool:
        """Follow it with ready() once the reload is done or refused: systemd waits for READY=1."""
        # Type=notify-reload (systemd 253+) matches RELOADING=1 to this reload by its timestamp.
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def watchdog_interval(self) -> Optional[float]:
        """Seconds between watchdog pings (half of WatchdogSec), or None if systemd watches no one here."""
        if self.watchdog_pid and self.watchdog_pid != str(os.getpid()):
            return None
        try:
            usec = int(self.watchdog_usec)
        except ValueError:
            return None
        return usec / 2_000_000 if usec > 0 else None

    def ping_if_due(self, now: float) -> bool:
        """Send WATCHDOG=1 if an interval passed since the last one that got through; True if sent."""
        interval = self.watchdog_interval()
        if interval is None or (self.last_ping is not None and now - self.last_ping < interval):
            return False
        sent = self.watchdog()
        if sent:  # a failed ping is retried on the next call, not an interval later
            self.last_ping = now
        return sent

    def send(self, *lines: str) -> bool:
        """One datagram of KEY=VALUE lines; False if disabled or systemd could not be reached."""
        if not self.enabled:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.setblocking(False)  # a full queue at systemd's end must not stall the supervisor loop
                sock.sendto("\n".join(lines).encode(), self.address)
            return True
        except OSError:
            return False


def forget_in_child(environ: Optional[MutableMapping[str, str]] = None) -> None:
    """Call in a forked worker: jobs and the programs they start must not speak for the service."""
    env = os.environ if environ is None else environ
    for name in NOTIFY_VARIABLES:
        env.pop(name, None)


def one_line(text: str) -> str:
    return " ".join(text.split())


def _address(value: str) -> Optional[str]:
    if value.startswith("@") and len(value) > 1:
        return "\0" + value[1:]  # Linux abstract namespace
    if value.startswith("/"):
        return value
    return None  # unset, or a transport we do not speak (vsock:)
