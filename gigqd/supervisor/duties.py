"""The supervisor's periodic duties, one named timer each (part of Supervisor, in loop.py)."""

from __future__ import annotations

import time
from typing import Optional

from gigq_client import GigqError, liveness
from gigq_client.orphans import OrphanJudge

from .. import processes
from . import recovery, watchdog

CANCEL_CHECK_INTERVAL = 1.0
STRAY_CHECK_INTERVAL = 2.0
STATUS_INTERVAL = 5.0  # how often systemd's one-line STATUS= is refreshed
THROUGHPUT_INTERVAL = 1.0
DOORBELL_CHECK_INTERVAL = 1.0  # at most this long without a working doorbell after a reconnect


class PeriodicDuties:
    """Each method is one duty; the supervisor's state (pool, store, board, log) is its own."""

    def _add_timers(self) -> None:
        settings = lambda: self.settings  # noqa: E731 - reloads replace the settings object
        # The lease first: when several duties are due at once, nothing waits ahead of its renewal.
        first_renewal = time.monotonic() + settings().lease / 4
        self.timers.add("lease", self.lease.renew, lambda: settings().lease / 4, first_renewal)
        first_orphan_check = time.monotonic() + self._check_orphans()  # before the first fork: recover the last run
        self.timers.add("orphan_check", self._check_orphans, lambda: settings().orphan_check_interval,
                        first_orphan_check)
        self.timers.add("cancel_check", self._check_cancels, lambda: CANCEL_CHECK_INTERVAL)
        self.timers.add("stray_check", self._kill_strays, lambda: STRAY_CHECK_INTERVAL)
        self.timers.add("throughput", self._sample_throughput, lambda: THROUGHPUT_INTERVAL)
        self.timers.add("status_line", self._report_status, lambda: STATUS_INTERVAL)
        if self.doorbell is not None and not self.doorbell.shared_by_fork:  # a lost LISTEN connection comes back here
            self.timers.add("doorbell", self._on_doorbell, lambda: DOORBELL_CHECK_INTERVAL)

    def _sample_throughput(self) -> None:
        done = sum(self.board.read(c.slot).jobs_done for c in self.pool.children)
        self.throughput.sample(done, time.monotonic())

    def _report_status(self) -> None:
        if self.notifier.enabled:
            self.notifier.status(self._summary())

    def _kill_strays(self) -> None:
        """A process a job double-forked to escape is adopted by us (subreaper): kill it.
        Only a job can leave a stray, so an idle pool is not scanned (it walks /proc)."""
        if self.throughput.total() == self.strays_checked_at:
            return
        self.strays_checked_at = self.throughput.total()
        for process in recovery.adopted(self.pool.worker_pids()):
            recovery.kill_quietly(process)
            self.log.warning("orphan_process_killed", stray_pid=process.pid, reason="escaped from a job")

    def _check_cancels(self) -> Optional[float]:
        """Act on cancel requests written to the database (gigqctl cancel, or any client)."""
        if not self.stopping:
            ours = {c.worker_id for c in self.pool.children}
            requested = self._store_call(self.store.cancel_requests) or []
            self.cancels = set()  # rebuilt: cancel_job watches again whatever has not started yet
            for claim in requested:
                if claim.worker_id in ours:
                    self.cancel_job(claim.job_id)
        return watchdog.BUSY_WAIT if self.cancels else None

    def _check_orphans(self) -> Optional[float]:
        if self.stopping:
            return None
        judge = OrphanJudge(liveness.machine(), processes.alive, time.time(), self.settings.lease,
                                     own_workers={c.worker_id for c in self.pool.children})
        requeued = self._store_call(self.store.requeue_orphans, judge) or []
        for claim, reason in requeued:
            self.log.warning("job_requeued", job_id=claim.job_id, attempt=claim.attempt, worker_id=claim.worker_id,
                             reason=reason)
        if requeued:
            self.log.info("orphans_requeued", count=len(requeued))
        return watchdog.orphan_check_delay(judge.waiting_on_exit, time.monotonic() - self.started,
                                           self.settings.orphan_check_interval)

    def _store_call(self, operation, *args):
        try:
            return operation(*args)
        except GigqError as error:
            self.log.error("supervisor_loop_failed", operation=operation.__name__, error=str(error))
            return None
