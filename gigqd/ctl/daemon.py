"""gigqctl's daemon commands: find, start, stop and steer a running gigqd."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from gigq_client import GigqError, JobQueue, liveness

from .. import database, files, processes
from ..control import client


class CtlError(Exception):
    """Something gigqctl prints as one line before exiting non-zero."""


@dataclass(frozen=True)
class Target:
    """Which daemon a command is about: its database, and its socket if known."""

    db: str
    socket: Optional[str] = None


def running_daemons(db: str) -> list[Any]:
    """Daemons registered in the database that are alive on this machine."""
    return _daemons_here(db)[0]


def _daemons_here(db: str) -> tuple[list[Any], Optional[GigqError]]:
    """running_daemons(), and why the database could not be read (None if it could, or
    if it is a SQLite file no one has made yet)."""
    if database.not_created_yet(db):
        return [], None
    try:
        with JobQueue(db, initialize=False) as queue:
            summaries = queue.daemons()
    except GigqError as unreadable:
        return [], unreadable
    here = liveness.machine()
    return [s.info for s in summaries
            if s.info.machine == here and s.info.socket_path
            and processes.alive(s.info.pid, s.info.pid_started)], None


def cluster_status(target: Target, queue: Callable[[], JobQueue]) -> tuple[Optional[dict], list[dict]]:
    """This machine's daemon's own report (None when none runs here) and every daemon
    the database knows, on any host; an error only when there is neither."""
    try:
        report = call(target, "status")
    except CtlError as unreachable:
        report, missing = None, unreachable
    try:
        with queue() as jobs:
            cluster = [_summary(s) for s in jobs.daemons()]
            if report is None and cluster:
                report = {"queues": jobs.stats_by_queue(), "totals": jobs.stats()}
    except (CtlError, GigqError):
        if report is None:
            raise missing from None
        cluster = []
    if report is None:
        raise missing
    return report, cluster


def _summary(summary: Any) -> dict:
    info = summary.info
    return {"daemon_id": info.id, "host": info.host, "pid": info.pid, "workers": info.extra.get("workers"),
            "version": info.extra.get("version"), "jobs_running": summary.jobs_running,
            "heartbeat_age": round(summary.heartbeat_age, 1), "lease_expired": summary.lease_expired}


def socket_for(target: Target) -> str:
    if target.socket:
        return target.socket
    daemons, unreadable = _daemons_here(target.db)
    if daemons:
        return daemons[0].socket_path
    fallback = database.beside(target.db, ".sock")
    if os.path.exists(fallback):
        return fallback
    if unreadable is not None:  # a wrong URL or a server that is down: a daemon started now would fail too
        raise CtlError(f"{unreadable} (and no gigqd for it answers on this host)")
    shown = database.shown(target.db)
    raise CtlError(f"no gigqd is running for {shown} on this host (start one with: gigqctl --db {shown} start)")


def call(target: Target, command: str, **arguments: Any) -> Any:
    path = socket_for(target)
    try:
        return client.call(path, command, **arguments)
    except client.DaemonUnreachable as error:
        raise CtlError(str(error)) from None
    except client.CommandFailed as error:
        raise CtlError(f"gigqd refused {command}: {error}") from None


def start(target: Target, config_path: Optional[str], workers: Optional[int], force: bool, timeout: float,
          log_file: str, pid_file: str) -> int:
    """Start gigqd detached (own session, log file, pid file); return its pid once it answers."""
    if not force:
        for daemon in running_daemons(target.db):
            raise CtlError(f"a gigqd (pid {daemon.pid}) is already running on {database.shown(target.db)}; "
                           "stop it first, or pass --force to start another")
    command = [sys.executable, "-m", "gigqd", "--pid-file", pid_file]
    if config_path:
        command += ["--config", config_path]
    if workers:
        command += ["--workers", str(workers)]
    env = dict(os.environ, GIGQD_LOG_FILE=log_file, GIGQD_DB=target.db)  # not argv: a URL may hold a password
    with files.open_private(log_file) as log:
        daemon = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                                  start_new_session=True, close_fds=True)
    return _wait_until_ready(daemon, target, timeout, log_file)


def _wait_until_ready(daemon: subprocess.Popen, target: Target, timeout: float, log_file: str) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise CtlError(f"gigqd failed to start: {_last_error(log_file)}")
        try:
            answer = client.call(target.socket or database.beside(target.db, ".sock"), "ping", timeout=1)
            if answer.get("pid") == daemon.pid:
                return daemon.pid
        except (client.DaemonUnreachable, client.CommandFailed):
            pass
        time.sleep(0.05)
    daemon.send_signal(signal.SIGTERM)
    raise CtlError(f"gigqd did not become ready within {timeout:g} s; see {log_file}")


def _last_error(log_file: str) -> str:
    try:
        with open(log_file) as handle:
            lines = [line.strip() for line in handle if line.strip()]
    except OSError:
        return "(no log)"
    mine = [line for line in lines if line.startswith("gigqd:")]  # the daemon's own one-line error
    return (mine or lines or ["(empty log)"])[-1][:2000]


def stop(target: Target, now: bool, timeout: float) -> int:
    answer = call(target, "stop", now=now)
    pid = answer["pid"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not liveness.alive(pid, None):  # gone, or a zombie its parent has yet to reap
            return pid
        time.sleep(0.05)
    raise CtlError(f"gigqd (pid {pid}) is still stopping after {timeout:g} s")
