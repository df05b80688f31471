"""Start the real gigqd as a subprocess on a temporary database, and watch it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

import psutil

from gigq_client import JobQueue
from tests.conftest import ROOT, wait_for


class Daemon:
    """A gigqd process: its config file, its log, its processes."""

    def __init__(self, folder: Path, workers: int = 2, **settings: Any):
        self.folder = folder
        self.db = settings.pop("db", None) or str(folder / "jobs.db")
        self.log_path = folder / "gigqd.log"
        self.config_path = folder / "gigqd.toml"
        self.settings = {"db": self.db, "workers": workers, "poll_interval": 5.0, "kill_grace": 1.0,
                         "heartbeat_timeout": 5.0, "log_level": "debug", **settings}
        self.write_config()
        self.process: Optional[subprocess.Popen] = None
        self._log_handle = None

    def write_config(self, **changes: Any) -> None:
        self.settings.update(changes)
        lines = [f"{key} = {_toml(value)}" for key, value in self.settings.items()]
        self.config_path.write_text("\n".join(lines) + "\n")

    def start(self, wait: bool = True, env: Optional[dict] = None) -> "Daemon":
        environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(self.folder)]))
        environment.pop("NOTIFY_SOCKET", None)
        environment.update(env or {})
        self._log_handle = open(self.log_path, "a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gigqd", "--config", str(self.config_path), "--log-format", "json"],
            cwd=self.folder, env=environment, stdout=self._log_handle, stderr=subprocess.STDOUT,
        )
        if wait:
            self.wait_event("daemon_started", timeout=20)
            wait_for(lambda: len(self.worker_pids()) >= self.settings["workers"], timeout=20, what="workers to fork")
        return self

    # observing -----------------------------------------------------------
    def events(self, name: Optional[str] = None) -> list[dict]:
        found = []
        if not self.log_path.exists():
            return found
        for line in self.log_path.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if name is None or record.get("event") == name:
                found.append(record)
        return found

    def wait_event(self, name: str, count: int = 1, timeout: float = 20.0, **match: Any) -> list[dict]:
        def matching():
            hits = [e for e in self.events(name) if all(e.get(k) == v for k, v in match.items())]
            return hits if len(hits) >= count else None

        return wait_for(matching, timeout=timeout, what=f"{count} x {name} {match or ''} in the gigqd log")

    def worker_pids(self) -> list[int]:
        try:
            children = psutil.Process(self.process.pid).children()
        except psutil.Error:
            return []
        return [child.pid for child in children if "worker" in " ".join(cmdline(child))]

    def queue(self) -> JobQueue:
        return JobQueue(self.db)

    # acting ----------------------------------------------------------------
    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self, timeout: float = 30.0) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill_everything(self) -> None:
        """Leave nothing behind, whatever the test did."""
        if self.process is None:
            return
        try:
            tree = [psutil.Process(self.process.pid), *psutil.Process(self.process.pid).children(recursive=True)]
        except psutil.Error:
            tree = []
        for process in tree:
            try:
                process.kill()
            except psutil.Error:
                pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if self._log_handle:
            self._log_handle.close()


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


def status_of(queue: JobQueue, job_id: str) -> str:
    return queue.get_status(job_id)["status"]


def wait_status(queue: JobQueue, job_id: str, wanted: str, timeout: float = 30.0) -> dict:
    return wait_for(lambda: (s := queue.get_status(job_id))["status"] == wanted and s, timeout=timeout,
                    what=f"job {job_id} to be {wanted}")


def pids_in(path: Path) -> list[int]:
    if not path.exists():
        return []
    return [int(line.split()[0]) for line in path.read_text().splitlines() if line.strip()]


def wait_until_dead(pids, timeout: float = 10.0) -> None:
    wait_for(lambda: all(_dead(pid) for pid in pids), timeout=timeout, what=f"processes {pids} to die")


def cmdline(process: psutil.Process) -> list[str]:
    """Its command line, or [] for a process that exited between the listing and the look."""
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def _dead(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:  # gone, even if it went between two looks
        return True


def now() -> float:
    return time.time()


def teach_short_jobs(queue: JobQueue, count: int = 20, workers: int = 1, rounds: int = 20) -> None:
    """Run no-op jobs, `count` at a time, until `workers` workers each ran at least 5 of them:
    a worker that has seen short jobs claims the next ones in batches (of 3 or more after 5).
    Which worker takes a job is up to them, hence the rounds."""
    from collections import Counter

    from gigq_client import Job
    from tests import jobfuncs

    ran: Counter = Counter()
    for _ in range(rounds):
        for job_id in [queue.submit(Job(f"warm{i}", jobfuncs.noop)) for i in range(count)]:
            ran[wait_status(queue, job_id, "completed")["executions"][-1]["worker_id"]] += 1
        if len(ran) >= workers and all(n >= 5 for _, n in ran.most_common(workers)):
            return
    raise AssertionError(f"{workers} workers did not each run 5 of the warm-up jobs: {dict(ran)}")
