"""The job loop a worker runs: claim in batches, run one job at a time, record outcomes fenced."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Callable, Optional, Sequence

from gigq_client import GigqError
from gigq_client.execute import Executor, Result
from gigq_client.store import Claim, ClaimedJob, Outcome, Store

from .. import board

# Claim about this many seconds of work at once. The bound keeps a held job from
# waiting behind its batch for long (other workers still take new work at once).
# Each job's outcome is committed before the next job starts (the last one of a batch
# in the same transaction as the next claim), so a worker killed between jobs has no
# finished work to run again. With record_outcomes = "batched" outcomes wait for the
# next claim, or at most FLUSH_AFTER: one transaction for many very short jobs, at the
# price of re-running up to that much finished work after a kill -9.
HOLD_TARGET = 0.1
FLUSH_AFTER = 0.1
# A job that runs this long was no short job: the jobs claimed behind it are given back
# (handback.py), so that an idle worker takes them instead of letting them wait.
HAND_BACK_AFTER = 0.25


def claim_size(average_run: float, batch_max: int) -> int:
    """How many jobs to claim at once: only as many as run in HOLD_TARGET, so that
    a claimed job waits a few milliseconds at most and priorities stay honest."""
    return max(1, min(batch_max, int(HOLD_TARGET / max(average_run, 1e-6))))


def may_have_left_jobs(claimed: int, limit: int, share: int) -> bool:
    """Whether ready jobs may remain after a claim that took `claimed` of at most `limit`:
    it took all it asked for, or the store cut the batch to a fair share (when `share`
    workers split fewer than limit x share ready jobs, each takes a part and leaves
    the rest). One job of a fair share may have been all there was; say yes then too."""
    if claimed == 0:
        return False
    return claimed >= limit or (share > 1 and limit > 1)


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
        share: int = 1,
        batch_outcomes: bool = False,
    ):
        self.store, self.worker_id, self.queues = store, worker_id, list(queues) if queues else None
        self.executor, self.batch_max, self.slot, self.log = executor, batch_max, slot, log
        self.on_result = on_result
        self.on_hold: Optional[Callable[[], None]] = None  # called as a job starts with others waiting behind it
        self.share = share  # workers in the pool: at the end of a burst, take only our part
        self.batch_outcomes = batch_outcomes
        self.batch: list[ClaimedJob] = []
        self.board_offset = 0  # board index of self.batch[0]
        self.waiting: deque[int] = deque()  # indexes in self.batch not yet run
        self.outcomes: list[Outcome] = []  # finished, not yet committed
        self.oldest_outcome = 0.0
        self.average_run = HOLD_TARGET
        self.pid = 0
        self.claim_unsure = False  # a claim failed: it may have committed all the same
        self.left_jobs = False  # the last claim may have left ready jobs for other workers
        self.set_aside: list = []  # claims of a batch dropped while fenced: released (fenced) when the store answers
        # Shared with the hand-back thread, which may take the waiting jobs while a job runs:
        # `waiting`, `set_aside` and `running_since` change only under this lock.
        self.lock = threading.Lock()
        self.running_since = 0.0  # monotonic start of the job running now; 0 between jobs

    @property
    def has_work(self) -> bool:
        return bool(self.waiting)

    def take_waiting_behind_long_job(self, now: float) -> list[Claim]:
        """Called from the hand-back thread: the claims of the jobs waiting behind a job
        that has run longer than HAND_BACK_AFTER, which the job loop will then not start."""
        with self.lock:
            if not self.running_since or now - self.running_since < HAND_BACK_AFTER or not self.waiting:
                return []
            taken = [self.batch[i].claim for i in self.waiting]
            self.waiting.clear()
            return taken

    def keep_for_release(self, claims: list[Claim]) -> None:
        """Claims the hand-back thread could not release: the job loop releases them next."""
        with self.lock:
            self.set_aside += claims

    def claim(self, limit: Optional[int] = None) -> int:
        """Record finished outcomes and claim the next batch, in one transaction."""
        limit = limit or claim_size(self.average_run, self.batch_max)
        if self.claim_unsure:
            self._release_lost_claims()
        self._release_set_aside()
        try:
            applied, jobs = self.store.finish_and_claim(self.outcomes, self.worker_id, self.queues, limit, self.share)
        except GigqError:
            self.claim_unsure = True
            raise
        self._report_refused(self.outcomes, applied)
        self.outcomes = []
        self._post(jobs)
        self.left_jobs = may_have_left_jobs(len(jobs), limit, self.share)
        return len(jobs)

    def set_aside_batch(self) -> None:
        """Start none of the batch's waiting jobs (the daemon may be losing its lease):
        they are released when the store answers again, fenced, so a job another daemon
        took over meanwhile is left to it."""
        with self.lock:
            self.set_aside += [self.batch[i].claim for i in self.waiting]
            self.waiting.clear()

    def _release_set_aside(self) -> None:
        with self.lock:
            claims, self.set_aside = self.set_aside, []
        try:
            if claims:
                self.store.release(claims)
        except BaseException:
            self.keep_for_release(claims)
            raise

    def _release_lost_claims(self) -> None:
        """A claim that failed may have committed before its answer was lost (a dropped
        connection): jobs running under our name that we do not hold are given back,
        unspent. They never started, so nobody else would ever requeue them."""
        ours = {o.claim for o in self.outcomes}
        lost = [r.claim for r in self.store.running_claims()
                if r.claim.worker_id == self.worker_id and r.claim not in ours]
        if lost:
            self.store.release(lost)
            if self.log is not None:
                for claim in lost:
                    self.log.warning("job_released", job_id=claim.job_id, attempt=claim.attempt,
                                     reason="claimed by a call whose answer was lost")
        self.claim_unsure = False

    def _post(self, jobs: list[ClaimedJob]) -> None:
        with self.lock:
            self.batch, self.waiting = jobs, deque(range(len(jobs)))
        if self.slot is not None:
            unrecorded = [(o.claim.job_id, o.claim.attempt) for o in self.outcomes]
            self.board_offset = self.slot.hold([(j.job_id, j.claim.attempt) for j in jobs], board.IDLE, unrecorded)
        if self.log is not None:
            for job in jobs:
                self.log.debug("job_claimed", job_id=job.job_id, attempt=job.claim.attempt, job_name=job.name)

    def run_next(self) -> ClaimedJob:
        """Run the next job of the batch. Outcomes not yet committed are committed
        first: a store error is raised before the job starts, the outcomes kept."""
        if self.outcomes and (not self.batch_outcomes or time.monotonic() - self.oldest_outcome > FLUSH_AFTER):
            self.flush()
        index, job = self._start_next()
        started, clock = time.time(), time.perf_counter()
        try:
            result = self.executor.run(job)
        finally:
            with self.lock:
                self.running_since = 0.0
        elapsed = time.perf_counter() - clock
        self._keep_outcome(job, result, started, elapsed)
        if self.slot is not None:
            self.slot.finish(self.board_offset + index, board.RUNNING if self.waiting else board.IDLE)
        if self.on_result is not None:
            self.on_result(job, result, elapsed)
        if self.waiting and not self.batch_outcomes:
            self.flush()  # the batch's last outcome goes with the next claim instead
        return job

    def _start_next(self) -> tuple[int, ClaimedJob]:
        with self.lock:  # from here on the hand-back thread may take the jobs behind this one
            index = self.waiting.popleft()
            self.running_since = time.monotonic()
        job = self.batch[index]
        if self.slot is not None:
            self.slot.start(self.board_offset + index, job.name, job.timeout)
        if self.waiting and self.on_hold is not None:
            self.on_hold()
        return index, job

    def _keep_outcome(self, job: ClaimedJob, result: Result, started: float, elapsed: float) -> None:
        self.average_run = 0.8 * self.average_run + 0.2 * elapsed
        if not self.outcomes:
            self.oldest_outcome = time.monotonic()
        self.outcomes.append(Outcome(job.claim, result.status, started, started + elapsed, result.result,
                                     result.error, result.retryable, self.pid or None))

    def flush(self) -> None:
        if self.outcomes:
            applied = self.store.finish(self.outcomes)  # on a store error the outcomes stay, to retry
            outcomes, self.outcomes = self.outcomes, []
            self._report_refused(outcomes, applied)

    def give_back(self) -> int:
        """Record what ran and release what did not start (a stop between jobs).
        Safe to call again after a store error: nothing is dropped until written."""
        self.flush()
        self.set_aside_batch()
        released = len(self.set_aside)
        self._release_set_aside()
        return released

    def _report_refused(self, outcomes: Sequence[Outcome], applied: Sequence[bool]) -> None:
        if self.log is None:
            return
        for outcome, ok in zip(outcomes, applied):
            if not ok:  # the claim was taken from us (requeued as an orphan): our result is not recorded
                self.log.warning("job_outcome_refused", job_id=outcome.claim.job_id, attempt=outcome.claim.attempt)
