"""Worker, GigQ's worker API: process_one() runs a job in this process, start() runs gigqd for it."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import uuid
from typing import Callable, Iterator, Optional, Sequence

from .child_daemon import ChildDaemon
from .errors import GigqError
from .in_process import InProcessRunner


class Worker:
    """Runs the jobs of `db_path`.

    process_one() runs one ready job in the calling process, as GigQ did. start()
    runs gigqd as a child process with `concurrency` worker processes, which
    enforces each job's timeout and replaces workers that die, and returns once
    it has stopped: after stop() (from any thread), SIGINT or SIGTERM. It works
    from any thread; if this process dies, gigqd stops too.
    `allowed_modules` (default: gigqd's setting) limits which functions may run.
    """

    def __init__(self, db_path: str, worker_id: Optional[str] = None, polling_interval: float = 5,
                 concurrency: int = 1, *, allowed_modules: Optional[Sequence[str]] = None):
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self.db_path = str(db_path)
        self.worker_id = worker_id or f"worker-{uuid.uuid4()}"
        self.polling_interval = polling_interval
        self.concurrency = concurrency
        self.allowed_modules = list(allowed_modules) if allowed_modules is not None else None
        self.running = False
        self.current_job_id: Optional[str] = None
        self._runner: Optional[InProcessRunner] = None
        self._daemon: Optional[ChildDaemon] = None
        self._lock = threading.RLock()  # reentrant: stop() also runs from start()'s signal handlers

    def process_one(self) -> bool:
        """Run one ready job, if any, in this process; True if a job was run."""
        runner = self._in_process_runner()
        job = runner.claim()
        if job is None:
            return False
        self.current_job_id = job.job_id
        try:
            runner.run(job)
        finally:
            self.current_job_id = None
        return True

    def start(self) -> None:
        """Run jobs in gigqd until stop(), SIGINT or SIGTERM; return once gigqd has stopped."""
        with self._lock:
            if self.running:
                raise GigqError("this Worker is already running: call start() once at a time")
            self.running = True
            daemon = self._current_daemon()
        try:
            with _stopping_on_signals(self.stop):
                daemon.run()
        finally:
            with self._lock:
                self.running, self._daemon = False, None

    def stop(self) -> None:
        """Make start() return once the running jobs have finished (up to gigqd's graceful_timeout).
        Called before start() has begun, it makes that start() return at once."""
        self._current_daemon().stop()

    def close(self) -> None:
        """Close process_one()'s database connection and take back its registration."""
        if self._runner is not None and self._runner.pid == os.getpid():
            self._runner.close()
        self._runner = None

    def _current_daemon(self) -> ChildDaemon:
        with self._lock:
            if self._daemon is None:
                self._daemon = ChildDaemon(self.db_path, self.concurrency, self.polling_interval, self.allowed_modules)
            return self._daemon

    def _in_process_runner(self) -> InProcessRunner:
        if self._runner is None or self._runner.pid != os.getpid():  # no connection crosses a fork
            self._runner = InProcessRunner(self.db_path, self.worker_id, self.allowed_modules or ["*"])
        return self._runner


@contextlib.contextmanager
def _stopping_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """In the main thread, SIGINT and SIGTERM call stop() (as in GigQ), and are put back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, lambda *_: stop()) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
