"""Worker: one worker inside your own process, as GigQ allowed (`from gigqd import Worker`).

It runs the same claim/run/record loop as a pooled worker. What it cannot do from
inside your process is what the supervisor is for: killing a job at its timeout,
replacing a dead worker. `concurrency` > 1 therefore runs the full supervisor in
the foreground with that many worker processes.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import threading
import time
import uuid
from typing import Optional

from gigq_client.execute import Executor
from gigq_client.store import DaemonInfo, SqliteStore

from . import processes
from .supervisor import watchdog
from .worker.runner import JobRunner

ORPHAN_CHECK_INTERVAL = 30.0  # seconds; as gigqd's default orphan_check_interval


class Worker:
    """Claims and runs jobs from `db_path` in the calling process."""

    def __init__(self, db_path: str, worker_id: Optional[str] = None, polling_interval: float = 5, concurrency: int = 1):
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self.db_path = str(db_path)
        self.worker_id = worker_id or f"worker-{uuid.uuid4()}"
        self.polling_interval = polling_interval
        self.concurrency = concurrency
        self.running = False
        self.current_job_id: Optional[str] = None
        self._daemon_id = f"embedded-{uuid.uuid4()}"
        self._store: Optional[SqliteStore] = None
        self._runner: Optional[JobRunner] = None
        self._doorbell: Optional[socket.socket] = None
        self._registered_pid = 0
        self._next_orphan_check = 0.0  # monotonic; the first call looks at once

    def process_one(self) -> bool:
        """Run one ready job, if any; True if a job was run."""
        runner = self._ready_runner()
        if time.monotonic() >= self._next_orphan_check:
            self._recover_orphans()
        if not runner.claim(limit=1):
            return False
        job = runner.batch[0]
        self.current_job_id = job.job_id
        try:
            runner.run_next()
            runner.flush()
        finally:
            self.current_job_id = None
        return True

    def start(self) -> None:
        """Run jobs until stop() or SIGINT/SIGTERM."""
        if self.concurrency > 1:
            return self._run_pool()
        self.running = True
        self._install_signal_handlers()
        try:
            while self.running:
                if not self.process_one():
                    self._wait(self.polling_interval)
        finally:
            self._deregister()

    def stop(self) -> None:
        """Ask start() to return after the job in hand."""
        self.running = False
        if self._doorbell is not None:
            try:
                self._doorbell.sendto(b"s", self._doorbell.getsockname())
            except OSError:
                pass

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    def _ready_runner(self) -> JobRunner:
        if self._runner is None or self._registered_pid != os.getpid():
            self._store = SqliteStore(self.db_path)
            self._register()
            executor = Executor(["*"], 10_000_000, self._store.parent_results)
            self._runner = JobRunner(self._store, self.worker_id, None, executor)
            self._runner.pid = os.getpid()
        return self._runner

    def _register(self) -> None:
        self._doorbell = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        name = f"gigqd-{self._daemon_id}"
        self._doorbell.bind("\0" + name)
        self._doorbell.setblocking(False)
        now, pid, started = time.time(), os.getpid(), processes.start_time()
        host = socket.gethostname()
        self._store.register_daemon(DaemonInfo(self._daemon_id, host, pid, started, now, now, doorbell_path="@" + name))
        self._store.register_worker(self.worker_id, self._daemon_id, host, pid, started)
        self._registered_pid = pid

    def _deregister(self) -> None:
        if self._store is not None:
            self._store.heartbeat(self._daemon_id, time.time())
            self._store.deregister_daemon(self._daemon_id)

    def _recover_orphans(self) -> None:
        """Requeue jobs of dead workers, as gigqd does: at start, then every ORPHAN_CHECK_INTERVAL."""
        self._next_orphan_check = time.monotonic() + ORPHAN_CHECK_INTERVAL
        host = socket.gethostname()
        judge = watchdog.OrphanJudge(host, processes.alive, time.time(), lease=60.0, own_workers={self.worker_id})
        self._store.requeue_orphans(judge)

    def _wait(self, seconds: float) -> None:
        self._store.heartbeat(self._daemon_id, time.time())
        due = self._store.next_due()
        if due is not None:
            seconds = max(0.0, min(seconds, due - time.time()))
        ready, _, _ = select.select([self._doorbell], [], [], seconds)
        if ready:
            try:
                while self._doorbell.recv(64):
                    pass
            except BlockingIOError:
                pass

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: self.stop())

    def _run_pool(self) -> None:
        from .config import load
        from .supervisor.loop import Supervisor

        settings = load(overrides={"db": self.db_path, "workers": self.concurrency, "poll_interval": float(self.polling_interval)})
        Supervisor(settings).run()
