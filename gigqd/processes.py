"""Process facts and process-tree killing (psutil), shared by supervisor and workers."""

from __future__ import annotations

import ctypes
import os
import signal
from typing import Iterable

import psutil

# A process's identity (pid and start time) is read where gigq_client.Worker reads it too.
from gigq_client.liveness import alive, start_time  # noqa: F401

PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux), so a job's escaped processes can still be killed."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def term_when_parent_exits(parent_pid: int) -> bool:
    """Have the kernel send SIGTERM when the process that started this one ends (Linux);
    False if `parent_pid` is no longer our parent (it ended before we asked)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    return os.getppid() == parent_pid  # after prctl: a parent that dies from now on is caught


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def signal_tree(pid: int, signum: int, known: Iterable[psutil.Process] = ()) -> list[psutil.Process]:
    """Send `signum` to a process, its process group and every descendant; return who was signalled."""
    targets = {p.pid: p for p in [*known, *descendants(pid)]}
    for process in targets.values():
        try:
            process.send_signal(signum)  # psutil checks the start time: a reused pid is left alone
        except psutil.Error:
            pass
    try:
        os.killpg(pid, signum)  # each worker leads its own process group
    except (ProcessLookupError, PermissionError):
        pass
    try:
        os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass
    return list(targets.values())


def terminate_tree(pid: int) -> list[psutil.Process]:
    """SIGTERM a process tree, then SIGCONT it, as systemd does: a stopped process
    (SIGSTOP, a frozen cgroup, a debugger) gets its TERM now, not when someone
    continues it. Returns who was signalled, for the SIGKILL that may follow."""
    tree = signal_tree(pid, signal.SIGTERM)
    signal_tree(pid, signal.SIGCONT, tree)
    return tree


class ChildWatch:
    """Whether this process has children: after every job, so it must cost almost
    nothing. The kernel's per-task children list is re-read with pread() on a kept
    descriptor (half a microsecond; opening the file each time costs 30 times more)."""

    def __init__(self) -> None:
        try:
            self._fd: int | None = os.open(f"/proc/self/task/{os.getpid()}/children", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:  # not Linux, or no CONFIG_PROC_CHILDREN: ask psutil instead
            self._fd = None

    def any(self) -> bool:
        if self._fd is None:
            return bool(descendants(os.getpid()))
        return bool(os.pread(self._fd, 16, 0).strip())


def kill_descendants() -> int:
    """SIGKILL every process this one started; return how many."""
    found = descendants(os.getpid())
    for process in found:
        try:
            process.send_signal(signal.SIGKILL)
        except psutil.Error:
            pass
    for process in found:
        try:
            process.wait(timeout=1)
        except psutil.Error:
            pass
    return len(found)


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)


def rss_mib() -> float:
    return psutil.Process().memory_info().rss / 2**20
