"""The job loop a worker runs: claim in batches, run one job at a time, record outcomes fenced."""

from __future__ import annotations

import time
from collections import deque
from typing import Any, Callable, Optional, Sequence

from gigq_client.store import ClaimedJob, Outcome, Store

from . import board
from .execute import Executor, Result

# Claim about this many seconds of work at once, and record finished outcomes at
# least this often while a batch runs. Each claim-and-record transaction costs a few
# hundred microseconds; batching 10 ms jobs ten at a time brings a worker within 1%
# of back-to-back. The bound keeps a held job from waiting behind its batch for long
# (other workers still take new work at once) and a dependent from waiting on its
# parent's recorded completion for more than this.
HOLD_TARGET = 0.1
FLUSH_AFTER = 0.1


def claim_size(average_run: float, batch_max: int) -> int:
    """How many jobs to claim at once: only as many as run in HOLD_TARGET, so that
    a claimed job waits a few milliseconds at most and priorities stay honest."""
    return max(1, min(batch_max, int(HOLD_TARGET / max(average_run, 1e-6))))


class JobRunner:
    def __init__(
        self,
        store: Store,
        worker_id: str,
        queues: Optional[Sequence[str]],
        executor: Executor,
        batch_max: int = 1,
        slot: Optional[board.SlotWriter] = None,
        log: Any = None,
        on_result: Optional[Callable[[ClaimedJob, Result, float], None]] = None,
    ):
        self.store, self.worker_id, self.queues = store, worker_id, list(queues) if queues else None
        self.executor, self.batch_max, self.slot, self.log = executor, batch_max, slot, log
        self.on_result = on_result
        self.batch: list[ClaimedJob] = []
        self.waiting: deque[int] = deque()  # indexes in self.batch not yet run
        self.outcomes: list[Outcome] = []
        self.oldest_outcome = 0.0
        self.average_run = HOLD_TARGET
        self.pid = 0

    @property
    def has_work(self) -> bool:
        return bool(self.waiting)

    def claim(self, limit: Optional[int] = None) -> int:
        """Record finished outcomes and claim the next batch, in one transaction."""
        limit = limit or claim_size(self.average_run, self.batch_max)
        applied, jobs = self.store.finish_and_claim(self.outcomes, self.worker_id, self.queues, limit)
        self._report_refused(self.outcomes, applied)
        self.outcomes = []
        self.batch, self.waiting = jobs, deque(range(len(jobs)))
        if self.slot is not None:
            self.slot.hold([(j.job_id, j.claim.attempt) for j in jobs], board.IDLE)
        if self.log is not None:
            for job in jobs:
                self.log.debug("job_claimed", job_id=job.job_id, attempt=job.claim.attempt, job_name=job.name)
        return len(jobs)

    def run_next(self) -> ClaimedJob:
        if self.outcomes and time.monotonic() - self.oldest_outcome > FLUSH_AFTER:
            self.flush()
        index = self.waiting.popleft()
        job = self.batch[index]
        if self.slot is not None:
            self.slot.start(index, job.name, job.timeout)
        started, clock = time.time(), time.perf_counter()
        result = self.executor.run(job)
        elapsed = time.perf_counter() - clock
        self.average_run = 0.8 * self.average_run + 0.2 * elapsed
        if not self.outcomes:
            self.oldest_outcome = time.monotonic()
        self.outcomes.append(Outcome(job.claim, result.status, started, started + elapsed, result.result,
                                     result.error, result.retryable, self.pid or None))
        if self.slot is not None:
            self.slot.finish(index, board.RUNNING if self.waiting else board.IDLE)
        if self.on_result is not None:
            self.on_result(job, result, elapsed)
        return job

    def flush(self) -> None:
        if self.outcomes:
            applied = self.store.finish(self.outcomes)  # on a store error the outcomes stay, to retry
            outcomes, self.outcomes = self.outcomes, []
            self._report_refused(outcomes, applied)

    def give_back(self) -> int:
        """Record what ran and release what did not start (a stop between jobs)."""
        self.flush()
        unstarted = [self.batch[i].claim for i in self.waiting]
        self.waiting.clear()
        return self.store.release(unstarted) if unstarted else 0

    def _report_refused(self, outcomes: Sequence[Outcome], applied: Sequence[bool]) -> None:
        if self.log is None:
            return
        for outcome, ok in zip(outcomes, applied):
            if not ok:  # the claim was taken from us (requeued as an orphan): our result is not recorded
                self.log.warning("job_outcome_refused", job_id=outcome.claim.job_id, attempt=outcome.claim.attempt)
