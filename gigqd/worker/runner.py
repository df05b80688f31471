"""The job loop a worker runs: claim in batches, run one job at a time, record outcomes fenced."""

from __future__ import annotations

import time
from collections import deque
from typing import Any, Callable, Optional, Sequence

from gigq_client.execute import Executor, Result
from gigq_client.store import ClaimedJob, Outcome, Store

from .. import board
from .prefetch import Prefetcher

# Claim about this many seconds of work at once, and record finished outcomes at
# least this often while a batch runs. Each claim-and-record transaction costs a few
# hundred microseconds; batching 10 ms jobs ten at a time brings a worker within 1%
# of back-to-back. The bound keeps a held job from waiting behind its batch for long
# (other workers still take new work at once) and a dependent from waiting on its
# parent's recorded completion for more than this.
HOLD_TARGET = 0.1
FLUSH_AFTER = 0.1
# Claim the next batch ahead, on the prefetch thread, only for jobs that mostly wait
# (sleep, I/O, subprocesses): under 1 ms there is nothing to overlap, past 25 ms the
# transaction is under 1% of a job, and a job holding the GIL would keep the helper
# thread (and SQLite's write lock) waiting for its turn.
PREFETCH_RUN = (0.001, HOLD_TARGET / 4)
PREFETCH_CPU_SHARE = 0.25
PREFETCH_DELAY = 0.002  # let the job get under way first (a quarter of an average job if less)


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
        prefetcher: Optional[Prefetcher] = None,
        share: int = 1,
    ):
        self.store, self.worker_id, self.queues = store, worker_id, list(queues) if queues else None
        self.executor, self.batch_max, self.slot, self.log = executor, batch_max, slot, log
        self.on_result, self.prefetcher = on_result, prefetcher
        self.share = share  # workers in the pool: at the end of a burst, take only our part
        self.batch: list[ClaimedJob] = []
        self.board_offset = 0  # board index of self.batch[0]
        self.waiting: deque[int] = deque()  # indexes in self.batch not yet run
        self.outcomes: list[Outcome] = []
        self.oldest_outcome = 0.0
        self.average_run = HOLD_TARGET
        self.cpu_share = 1.0  # of the last batch's run time; assume CPU-bound until seen
        self.batch_clocks: Optional[tuple[float, float]] = None
        self.batch_full = False
        self.pid = 0

    @property
    def has_work(self) -> bool:
        return bool(self.waiting)

    def claim(self, limit: Optional[int] = None) -> int:
        """Record finished outcomes and claim the next batch, in one transaction
        (or take the batch the prefetch thread claimed while the last job ran)."""
        if self._adopt_prefetched():
            return len(self.batch)
        limit = limit or claim_size(self.average_run, self.batch_max)
        applied, jobs = self.store.finish_and_claim(self.outcomes, self.worker_id, self.queues, limit, self.share)
        self._report_refused(self.outcomes, applied)
        self.outcomes = []
        self._post(jobs, limit)
        return len(jobs)

    def _adopt_prefetched(self) -> bool:
        fetched = self.prefetcher.take() if self.prefetcher is not None else None
        if fetched is None:
            return False
        if fetched.error is not None:
            self.outcomes = fetched.outcomes + self.outcomes  # recorded on the next try
            raise fetched.error
        self._report_refused(fetched.outcomes, fetched.applied)
        if fetched.jobs:
            self._post(fetched.jobs, fetched.limit, ahead=True)
        return bool(fetched.jobs)

    def _post(self, jobs: list[ClaimedJob], limit: int, ahead: bool = False) -> None:
        self.batch, self.waiting, self.batch_clocks = jobs, deque(range(len(jobs))), None
        self.batch_full = len(jobs) >= limit  # the queue may hold more: worth claiming ahead
        if self.slot is not None:
            unrecorded = [(o.claim.job_id, o.claim.attempt) for o in self.outcomes]
            self.board_offset = self.slot.hold([(j.job_id, j.claim.attempt) for j in jobs], board.IDLE, unrecorded)
        if self.log is not None:
            for job in jobs:
                self.log.debug("job_claimed", job_id=job.job_id, attempt=job.claim.attempt, job_name=job.name,
                               ahead=ahead)

    def run_next(self) -> ClaimedJob:
        if self.outcomes and time.monotonic() - self.oldest_outcome > FLUSH_AFTER:
            self.flush()
        index = self.waiting.popleft()
        job = self.batch[index]
        self._measure_batch(last=not self.waiting)
        if not self.waiting and self._worth_prefetching():
            outcomes, self.outcomes = self.outcomes, []
            limit = min(claim_size(self.average_run, self.batch_max), self.prefetcher.room)
            self.prefetcher.start(outcomes, limit, self.share, delay=min(PREFETCH_DELAY, self.average_run / 4))
        if self.slot is not None:
            self.slot.start(self.board_offset + index, job.name, job.timeout)
        started, clock = time.time(), time.perf_counter()
        result = self.executor.run(job)
        elapsed = time.perf_counter() - clock
        self.average_run = 0.8 * self.average_run + 0.2 * elapsed
        if not self.outcomes:
            self.oldest_outcome = time.monotonic()
        self.outcomes.append(Outcome(job.claim, result.status, started, started + elapsed, result.result,
                                     result.error, result.retryable, self.pid or None))
        if self.slot is not None:
            self.slot.finish(self.board_offset + index, board.RUNNING if self.waiting else board.IDLE)
        if self.on_result is not None:
            self.on_result(job, result, elapsed)
        return job

    def _measure_batch(self, last: bool) -> None:
        """The CPU share of the batch's jobs so far, read when its last job starts."""
        if self.prefetcher is None:
            return
        if self.batch_clocks is None:
            self.batch_clocks = (time.perf_counter(), time.process_time())
        elif last:
            wall, cpu = self.batch_clocks
            self.cpu_share = (time.process_time() - cpu) / max(time.perf_counter() - wall, 1e-9)

    def _worth_prefetching(self) -> bool:
        return (self.prefetcher is not None and self.batch_full and PREFETCH_RUN[0] <= self.average_run <= PREFETCH_RUN[1]
                and self.cpu_share < PREFETCH_CPU_SHARE and self.prefetcher.room > 0)

    def flush(self) -> None:
        if self.outcomes:
            applied = self.store.finish(self.outcomes)  # on a store error the outcomes stay, to retry
            outcomes, self.outcomes = self.outcomes, []
            self._report_refused(outcomes, applied)

    def give_back(self) -> int:
        """Record what ran and release what did not start (a stop between jobs)."""
        self._adopt_prefetched()
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
