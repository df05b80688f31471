"""The Store interface: each operation is one short transaction with a stated guarantee.

A backend (SQLite today, PostgreSQL later) implements every method and passes the
contract suite in tests/store/.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional, Sequence


@dataclass
class NewJob:
    """A validated job, params already JSON, ready to be stored."""

    id: str
    name: str
    module: str
    function: str
    params: str
    priority: int = 0
    dependencies: tuple[str, ...] = ()
    max_attempts: int = 3
    timeout: float = 300
    description: str = ""
    retry_delay: float = 0
    pass_parent_results: Optional[bool] = None
    queue: str = "default"
    run_at: Optional[float] = None
    created_at: str = ""


@dataclass(frozen=True)
class Claim:
    """The fence of one attempt: only its holder may finish it."""

    job_id: str
    attempt: int
    worker_id: str


@dataclass(frozen=True)
class ClaimedJob:
    """What a worker needs to run one claimed attempt."""

    claim: Claim
    name: str
    module: str
    function: str
    params: str
    timeout: float
    max_attempts: int
    retry_delay: float
    dependencies: tuple[str, ...]
    pass_parent_results: Optional[bool]
    queue: str
    priority: int
    defect: Optional[str] = None  # what is wrong with the stored row; such a job fails without running

    @property
    def job_id(self) -> str:
        return self.claim.job_id


COMPLETED, FAILED, TIMEOUT = "completed", "failed", "timeout"


@dataclass  # not frozen: made once per job, and frozen dataclasses are slower to make
class Outcome:
    """How one attempt ended. A failure is retried while attempts remain, unless
    `retryable` is False; when none remain the job ends in `status`."""

    claim: Claim
    status: str  # COMPLETED, FAILED or TIMEOUT
    started: float
    finished: float
    result: Optional[str] = None  # JSON text, for COMPLETED
    error: Optional[str] = None
    retryable: bool = True
    pid: Optional[int] = None


@dataclass(frozen=True)
class RunningClaim:
    """A running attempt with what is known of its owner, for orphan decisions."""

    claim: Claim
    started_at: float
    timeout: float
    host: Optional[str]  # None: the worker never registered (unknown owner)
    pid: Optional[int]
    pid_started: Optional[float]
    daemon_id: Optional[str]
    daemon_heartbeat: Optional[float]


@dataclass(frozen=True)
class DaemonInfo:
    id: str
    host: str
    pid: int
    pid_started: float
    started_at: float
    heartbeat_at: float
    socket_path: str = ""
    doorbell_path: str = ""
    queues: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


OrphanJudge = Callable[[RunningClaim], Optional[str]]
"""Returns the reason a running claim's owner is dead, or None while it lives."""


class Store(abc.ABC):
    """Every operation the client and the daemon perform on the queue."""

    # submitting -------------------------------------------------------
    @abc.abstractmethod
    def enqueue(self, jobs: Iterable[NewJob]) -> None:
        """Store all jobs or none. Unknown dependency ids or a cycle: UnknownDependency.
        `jobs` is read once, inside the write transaction: an error it raises stores nothing."""

    # running (the daemon's side) --------------------------------------
    @abc.abstractmethod
    def claim(self, worker_id: str, queues: Optional[Sequence[str]], limit: int = 1) -> list[ClaimedJob]:
        """Hand out up to `limit` ready jobs, best priority first, each to one claimer only."""

    @abc.abstractmethod
    def finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        """Record outcomes; each applies only if its claim is still held. Returns applied flags."""

    @abc.abstractmethod
    def finish_and_claim(
        self, outcomes: Sequence[Outcome], worker_id: str, queues: Optional[Sequence[str]], limit: int,
        share: int = 1,
    ) -> tuple[list[bool], list[ClaimedJob]]:
        """finish() then claim() in one transaction. With `share` > 1, take at most that
        fraction of the ready jobs (rounded up), so `share` workers draining the end of a
        burst finish it together instead of one running a whole batch alone."""

    @abc.abstractmethod
    def release(self, claims: Iterable[Claim], reason: Optional[str] = None) -> int:
        """Give claimed jobs back to pending without spending their attempt. With a
        reason (a run stopped from outside, e.g. shutdown) the execution is kept as
        "interrupted"; without one (never started) it is removed."""

    @abc.abstractmethod
    def running_claims(self) -> list[RunningClaim]:
        """Every running attempt with its owner's identity and heartbeat."""

    @abc.abstractmethod
    def requeue_orphans(self, judge: OrphanJudge) -> list[tuple[Claim, str]]:
        """Fail every running attempt whose owner `judge` finds dead (retried while attempts remain)."""

    @abc.abstractmethod
    def next_due(self) -> Optional[float]:
        """Epoch time when the earliest delayed or backing-off job becomes ready."""

    @abc.abstractmethod
    def parent_results(self, job_ids: Sequence[str]) -> dict[str, Any]:
        """Results of the given jobs, in the given order (None where absent)."""

    # registry of daemons and workers ----------------------------------
    @abc.abstractmethod
    def register_daemon(self, info: DaemonInfo) -> None: ...

    @abc.abstractmethod
    def heartbeat(self, daemon_id: str, now: float) -> None:
        """Renew the lease on every job held by this daemon's workers."""

    @abc.abstractmethod
    def deregister_daemon(self, daemon_id: str) -> None: ...

    @abc.abstractmethod
    def daemons(self) -> list[DaemonInfo]: ...

    @abc.abstractmethod
    def register_worker(self, worker_id: str, daemon_id: str, host: str, pid: int, pid_started: float) -> None: ...

    # managing (the client's side) -------------------------------------
    @abc.abstractmethod
    def get_job(self, job_id: str) -> Optional[dict[str, Any]]: ...

    @abc.abstractmethod
    def get_result(self, job_id: str) -> tuple[bool, Optional[str], Any]:
        """(exists, status, result)."""

    @abc.abstractmethod
    def list_jobs(self, status: Optional[str], limit: int, queue: Optional[str]) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def stats(self, queue: Optional[str] = None) -> dict[str, int]: ...

    @abc.abstractmethod
    def stats_by_queue(self) -> dict[str, dict[str, int]]: ...

    @abc.abstractmethod
    def cancel(self, job_id: str) -> bool:
        """Cancel a pending job (and, by cascade, its dependents)."""

    @abc.abstractmethod
    def request_cancel(self, job_id: str) -> bool:
        """Flag a running job for its daemon to stop."""

    @abc.abstractmethod
    def cancel_requests(self) -> list[Claim]:
        """Running attempts flagged for cancellation."""

    @abc.abstractmethod
    def cancel_running(self, claim: Claim, reason: str, started: float, finished: float) -> bool:
        """End a running attempt as cancelled (fenced), cascading to dependents."""

    @abc.abstractmethod
    def requeue_job(self, job_id: str) -> bool:
        """Put a failed, timed-out or cancelled job back to pending with its attempts reset."""

    @abc.abstractmethod
    def clear_completed(self, before: Optional[float]) -> int: ...

    @abc.abstractmethod
    def checkpoint(self) -> None:
        """Housekeeping a worker may do while idle (SQLite: copy the WAL back)."""

    @abc.abstractmethod
    def change_counter(self) -> int:
        """A number that changes whenever another connection commits (cheap to read)."""

    @abc.abstractmethod
    def close(self) -> None: ...
