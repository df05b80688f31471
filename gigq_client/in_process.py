"""Run one ready job in the calling process (Worker.process_one): claim it, run it, record it fenced."""

from __future__ import annotations

import os
import socket
import time
import uuid
from typing import Optional, Sequence

from . import liveness
from .execute import Executor
from .orphans import OrphanJudge
from .store import ClaimedJob, DaemonInfo, Outcome, open_store

# As gigqd's defaults: orphan_check_interval, lease and max_result_bytes.
ORPHAN_CHECK_INTERVAL, LEASE, MAX_RESULT_BYTES = 30.0, 60.0, 10_000_000
HEARTBEAT_INTERVAL = 10.0  # other hosts requeue our claims after LEASE without one


class InProcessRunner:
    """This process as a one-worker daemon, registered so that others judge its claims rightly."""

    def __init__(self, db_path: str, worker_id: str, allowed_modules: Sequence[str]):
        self.store = open_store(db_path)
        self.worker_id = worker_id
        self.daemon_id = f"in-process-{uuid.uuid4()}"
        self.pid = os.getpid()
        self.executor = Executor(allowed_modules, MAX_RESULT_BYTES, self.store.parent_results)
        self._next_orphan_check = 0.0  # monotonic; the first claim looks at once
        self._next_heartbeat = time.monotonic() + HEARTBEAT_INTERVAL
        self._register()

    def claim(self) -> Optional[ClaimedJob]:
        """The next ready job, now ours; None if there is none."""
        now = time.monotonic()
        if now >= self._next_heartbeat:
            self._next_heartbeat = now + HEARTBEAT_INTERVAL
            self.store.renew_lease(self.daemon_id, LEASE)
        if now >= self._next_orphan_check:
            self._recover_orphans()
        jobs = self.store.claim(self.worker_id, None, 1)
        return jobs[0] if jobs else None

    def run(self, job: ClaimedJob) -> None:
        """Run a claimed job here and record how it ended, if the claim is still ours."""
        started = time.time()
        result = self.executor.run(job)
        self.store.finish([Outcome(job.claim, result.status, started, time.time(), result.result, result.error,
                                   result.retryable, self.pid)])

    def close(self) -> None:
        try:
            self.store.deregister_daemon(self.daemon_id)
        finally:
            self.store.close()

    def _register(self) -> None:
        now, host, started = time.time(), socket.gethostname(), liveness.start_time()
        self.store.register_daemon(DaemonInfo(self.daemon_id, host, self.pid, started, now, now,
                                              machine=liveness.machine()), LEASE)
        self.store.register_worker(self.worker_id, self.daemon_id, host, self.pid, started)

    def _recover_orphans(self) -> None:
        """Requeue jobs of dead workers, as gigqd does: at once, then every ORPHAN_CHECK_INTERVAL."""
        self._next_orphan_check = time.monotonic() + ORPHAN_CHECK_INTERVAL
        judge = OrphanJudge(liveness.machine(), liveness.alive, time.time(), LEASE, own_workers={self.worker_id})
        self.store.requeue_orphans(judge)
