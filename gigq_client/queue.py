"""JobQueue: submit, watch and manage jobs in a job store (a SQLite file or a PostgreSQL URL)."""

from __future__ import annotations

import os
import time
import weakref
from typing import Any, Iterable, Iterator, Optional, Union

from . import timestamps
from .errors import JobNotFound, JobWaitTimeout, StoreError
from .jobs import FINAL_STATUSES, Job, JobStatus
from .serialize import to_new_job
from .store import DaemonSummary, NewJob, is_postgres_url, open_store

DB_VARIABLE = "GIGQ_DB"  # read by gigqd and gigqctl as well
_OPEN_QUEUES: "weakref.WeakSet[JobQueue]" = weakref.WeakSet()
_WAIT_FIRST_DELAY, _WAIT_MAX_DELAY = 0.001, 0.1


class JobQueue:
    """A queue of jobs shared by every process that opens it: in a SQLite database file,
    or in a PostgreSQL database given as "postgresql://user@host/db" (needs the extra
    gigqd[postgres]); with no db_path, the one GIGQ_DB names. busy_timeout and
    synchronous are SQLite's settings."""

    def __init__(
        self,
        db_path: Optional[str] = None,
        initialize: bool = True,
        *,
        busy_timeout: Optional[float] = None,
        synchronous: Optional[str] = None,
    ):
        if db_path is None:
            db_path = os.environ.get(DB_VARIABLE) or _no_database()
        self.db_path = str(db_path)
        options = _sqlite_options(db_path, busy_timeout, synchronous)
        self.store = open_store(self.db_path, initialize=initialize, **options)
        _OPEN_QUEUES.add(self)

    # submitting ---------------------------------------------------------
    def submit(self, job: Job) -> str:
        """Store one job and wake a running daemon; returns the job id."""
        self.store.enqueue_and_notify([to_new_job(job)])
        return job.id

    def submit_many(self, jobs: Iterable[Job]) -> list[str]:
        """Store all jobs in one transaction (all or none); returns their ids in order."""
        jobs = list(jobs)  # the caller's iterable runs before the write lock is taken: it may be slow
        if not jobs:
            return []
        ids: list[str] = []

        def records() -> Iterator[NewJob]:  # made while the store writes: see SqliteStore.enqueue
            for job in jobs:
                record = to_new_job(job)
                ids.append(record.id)
                yield record

        self.store.enqueue(records())
        self.store.notify_new_jobs()
        return ids

    # watching -----------------------------------------------------------
    def get_status(self, job_id: str) -> dict[str, Any]:
        """Everything known about a job; {"exists": False} for an unknown id."""
        return self.store.get_job(job_id) or {"exists": False}

    def get_result(self, job_id: str) -> Any:
        """The job's result once completed, else None; KeyError for an unknown id."""
        exists, status, result = self.store.get_result(job_id)
        if not exists:
            raise JobNotFound(f"Job with id {job_id!r} not found")
        return result if status == JobStatus.COMPLETED.value else None

    def list_jobs(
        self, status: Optional[Union[JobStatus, str]] = None, limit: int = 100, queue: Optional[str] = None
    ) -> list[dict[str, Any]]:
        """Jobs newest first, optionally of one status and one queue."""
        status_value = JobStatus(status).value if status is not None else None
        return self.store.list_jobs(status_value, limit, queue)

    def stats(self, queue: Optional[str] = None) -> dict[str, int]:
        """Number of jobs in each status, plus "total"."""
        return self.store.stats(queue)

    def stats_by_queue(self) -> dict[str, dict[str, int]]:
        """stats() for each queue, by name."""
        return self.store.stats_by_queue()

    def wait(self, job_id: str, timeout: Optional[float] = None) -> dict[str, Any]:
        """Block until the job reaches a final state and return its status.

        Sleeps between checks (1 ms growing to 100 ms) and reads the job only when the
        database has changed, so waiting costs no CPU to speak of.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        delay, seen = _WAIT_FIRST_DELAY, None
        while True:
            counter = self.store.change_counter()
            if counter != seen:
                seen = counter
                status = self._final_status(job_id)
                if status is not None:
                    return status
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise JobWaitTimeout(f"job {job_id} did not finish within {timeout:g} s")
            time.sleep(delay if remaining is None else min(delay, remaining))
            delay = min(delay * 2, _WAIT_MAX_DELAY)

    def _final_status(self, job_id: str) -> Optional[dict[str, Any]]:
        exists, status, _ = self.store.get_result(job_id)
        if not exists:
            raise JobNotFound(f"Job with id {job_id!r} not found")
        return self.get_status(job_id) if status in FINAL_STATUSES else None

    # managing -----------------------------------------------------------
    def cancel(self, job_id: str) -> bool:
        """Cancel a pending job (its dependents are cancelled too); False if it is not pending."""
        return self.store.cancel(job_id)

    def requeue_job(self, job_id: str) -> bool:
        """Send a failed, timed-out or cancelled job back to pending with its attempts reset."""
        return self.store.requeue_job(job_id)

    def cancel_running(self, job_id: str) -> bool:
        """Ask the daemon running the job to stop it (it is cancelled once stopped); False if it is not running."""
        return self.store.request_cancel(job_id)

    def pause(self, queue: str = "*") -> None:
        """Stop every daemon claiming jobs of `queue` ("*": every queue). Running jobs finish."""
        self.store.pause_queue(queue)

    def resume(self, queue: str = "*") -> bool:
        """Let daemons claim jobs of `queue` again, and wake them; False if it was not paused."""
        resumed = self.store.resume_queue(queue)
        self.store.notify_new_jobs()
        return resumed

    def paused_queues(self) -> list[str]:
        return self.store.paused_queues()

    def daemons(self) -> list[DaemonSummary]:
        """Every daemon serving this queue (on any host), with its running jobs and lease."""
        return self.store.daemon_summaries()

    def clear_completed(self, before_timestamp: Optional[timestamps.When] = None) -> int:
        """Delete completed and cancelled jobs (finished before the timestamp, if given)."""
        before = timestamps.to_epoch(before_timestamp) if before_timestamp is not None else None
        return self.store.clear_completed(before)

    def close(self) -> None:
        """Close this thread's database connection (it reopens on next use)."""
        self.store.close()

    def __enter__(self) -> "JobQueue":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"JobQueue({getattr(self.store, 'where', self.db_path)!r})"  # a URL's password is never shown


def _sqlite_options(location: str, busy_timeout: Optional[float], synchronous: Optional[str]) -> dict[str, Any]:
    options = {"busy_timeout": busy_timeout, "synchronous": synchronous}
    given = {name: value for name, value in options.items() if value is not None}
    if given and is_postgres_url(location):
        raise StoreError(f"{', '.join(given)}: SQLite settings, not for a PostgreSQL store")
    return given


def close_connections() -> None:
    """Close the calling thread's connections of every open JobQueue (GigQ compatibility)."""
    for queue in list(_OPEN_QUEUES):
        queue.close()


def _no_database() -> str:
    raise StoreError(f"no database: pass JobQueue a path or a postgresql:// URL, or set {DB_VARIABLE}")
