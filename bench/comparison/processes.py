"""Start a system's worker processes, look at their process tree, and always end it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field

import psutil

MB = 1024 * 1024


@dataclass
class Running:
    """The processes one system started for one measurement."""

    roots: list  # subprocess.Popen, one per command
    spawned_at: float  # time.time() just before the first Popen
    seen: set = field(default_factory=set)  # every pid ever seen in the tree
    forced: bool = False  # True when SIGKILL was needed to end it

    def tree(self) -> list:
        """Live psutil processes: each root, then its descendants."""
        found = []
        for popen in self.roots:
            try:
                root = psutil.Process(popen.pid)
                found.append(root)
                found.extend(root.children(recursive=True))
            except psutil.NoSuchProcess:
                continue
        self.seen.update(p.pid for p in found)
        return found

    def alive(self) -> bool:
        return any(popen.poll() is None for popen in self.roots)


def start(commands: list, cwd: str, env: dict, log_dir: str) -> Running:
    """Start each command in its own session, its output going to a file in log_dir."""
    roots = []
    spawned_at = time.time()
    running = Running(roots, spawned_at)
    try:
        for number, argv in enumerate(commands, 1):
            with open(os.path.join(log_dir, f"process-{number}.log"), "ab") as output:
                roots.append(subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                              stdout=output, stderr=subprocess.STDOUT, start_new_session=True))
    except BaseException:
        stop(running, grace=0)
        raise
    return running


def stop(running: Running, grace: float) -> None:
    """SIGTERM the roots, wait up to `grace` seconds, then SIGKILL whatever is left of the tree.

    INT and TERM to the harness are held back until this is done, so an interrupted run
    still ends every process it started.
    """
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        _stop(running, grace)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _stop(running: Running, grace: float) -> None:
    members = running.tree()
    for popen in running.roots:
        _signal_pid(popen.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while running.alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    running.forced = running.alive()
    leftovers = [p for p in members + running.tree() if _exists(p)]
    for process in leftovers:
        _signal_pid(process.pid, signal.SIGKILL)
    for popen in running.roots:
        if popen.poll() is None:  # not reaped yet, so its pid still names its group
            _kill_group(popen.pid)
    for popen in running.roots:
        try:
            popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    psutil.wait_procs(leftovers, timeout=5)


def cpu_seconds(processes: list) -> dict:
    """pid -> user+system CPU seconds so far, for each process still there."""
    times = {}
    for process in processes:
        try:
            cpu = process.cpu_times()
            times[process.pid] = cpu.user + cpu.system
        except psutil.NoSuchProcess:
            continue
    return times


def cpu_used(before: dict, after: dict) -> float:
    """CPU seconds spent between two cpu_seconds() samples (a new process counts from 0)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def rss_mb(process) -> float | None:
    try:
        return process.memory_info().rss / MB
    except psutil.NoSuchProcess:
        return None


def _exists(process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _signal_pid(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _kill_group(pid: int) -> None:
    """Each root leads its own process group (start_new_session): end any stragglers in it."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
