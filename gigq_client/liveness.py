"""Whether a process still runs, by its pid and start time, read from /proc (standard library only)."""

from __future__ import annotations

import os
from typing import Optional

# A worker registers its pid and start time; whoever judges later whether it died
# compares both, so a reused pid is not taken for it. gigqd and gigq_client.Worker
# must record and judge the same way, hence one module for both.
_HAS_PROC = os.path.isdir("/proc/self")


def start_time(pid: Optional[int] = None) -> float:
    """When the process started (seconds since the epoch, to the millisecond)."""
    fields = _stat_fields(pid or os.getpid())
    if fields is None:
        return 0.0  # unknown without /proc; alive() then judges by the pid alone
    return _started(fields)


def machine() -> str:
    """This machine as far as pids go: its boot and its pid namespace. Two daemons that
    share it may judge each other's workers by their pids; others only by their leases
    (a container with the same hostname elsewhere, or a machine that rebooted, does not)."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as handle:
            boot = handle.read().strip()
        return f"{boot}:{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return ""  # not Linux: never judged by pid from elsewhere


def alive(pid: int, started: Optional[float]) -> bool:
    """True if `pid` runs (not a zombie) and is the process that started at `started`."""
    fields = _stat_fields(pid)
    if fields is None:
        return not _HAS_PROC and _pid_exists(pid)
    if fields[0] == "Z":
        return False
    return started is None or abs(_started(fields) - started) < 0.01


def _stat_fields(pid: int) -> Optional[list[str]]:
    """The fields of /proc/PID/stat after the command name (which may hold spaces)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError, NotADirectoryError):
        return None
    return data[data.rindex(b")") + 2:].decode().split()


def _started(fields: list[str]) -> float:
    ticks = int(fields[19])  # field 22 of /proc/PID/stat: its start, in clock ticks after boot
    return round(ticks / os.sysconf("SC_CLK_TCK") + _boot_time(), 3)


def _boot_time() -> float:
    with open("/proc/stat", "rb") as handle:
        for line in handle:
            if line.startswith(b"btime"):
                return float(line.split()[1])
    raise OSError("/proc/stat has no btime line")


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists; it is someone else's
    return True

