"""The Store interface: each operation is one short transaction with a stated guarantee.

A backend (store/sqlite, store/postgres) implements every method and passes the
contract suite in tests/store/.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Iterable, Optional, Sequence


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
    machine: Optional[str] = None  # where its daemon runs: pids mean something only there
    lease_expired: Optional[bool] = None  # by the store's clock; None when its daemon is not registered


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
    machine: str = ""  # boot id and pid namespace: the daemons whose pids this one may judge share it
    lease_until: float = 0.0  # epoch seconds by the store's clock; set by register_daemon and renew_lease


@dataclass(frozen=True)
class DaemonSummary:
    """One daemon as the cluster sees it, by the store's clock."""

    info: DaemonInfo
    jobs_running: int
    heartbeat_age: float  # seconds since its last renewal
    lease_expired: bool


OrphanJudge = Callable[[RunningClaim], Optional[str]]
"""Returns the reason a running claim's owner is dead, or None while it lives."""


class JobListener(abc.ABC):
    """A daemon's end of the doorbell that Store.notify_new_jobs() rings.

    Made by Store.listen_for_jobs() in the supervisor, which waits on it itself or,
    when it is shared_by_fork, hands it to the workers it forks afterwards, who wait
    on it while idle. Wait for fileno() to be readable in a select loop, then call drain(),
    which never blocks. Also call drain() once per loop turn of at most a second or
    so even when nothing was readable: a listener that lost its connection reconnects
    there. A wake-up is a hint: whoever waits still polls (a lost wake-up costs at
    most one poll interval), and drain() answers True whenever wake-ups may have been
    missed (e.g. after reconnecting), so the caller looks for work then too."""

    address: str = ""
    """What clients need to reach this listener, for DaemonInfo.doorbell_path ("" if nothing)."""

    shared_by_fork: bool = False
    """True if processes forked after it may wait on fileno() and drain() it themselves,
    so that a ring wakes an idle worker directly and wakes nobody while all are busy.
    False where only the opening process can listen (a LISTEN connection)."""

    @abc.abstractmethod
    def fileno(self) -> int:
        """The descriptor to wait on for reading; the same for the listener's whole life."""

    @abc.abstractmethod
    def drain(self) -> bool:
        """Consume every pending wake-up without blocking; True if work may have arrived."""

    @abc.abstractmethod
    def fds(self) -> list[int]:
        """Every descriptor the listener holds now: a forked child must close them."""

    def pass_on(self) -> None:
        """Ring once more, for another process sharing this listener: the caller drained
        wake-ups for more work than it took. Does nothing where only one process listens."""
        return None

    def trouble(self) -> str:
        """Why no wake-up can arrive now ("" while one can), for the caller to log when it
        changes. Meanwhile new jobs are found by polling, at most a poll interval late."""
        return ""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop listening and release the descriptors (idempotent)."""


class Store(abc.ABC):
    """Every operation the client, the daemon and gigqctl perform on the queue.

    Unless its docstring says otherwise, each operation is one short transaction:
    it applies whole or not at all, and a store error (a GigqError) means nothing
    was applied. "Fenced" means the operation applies only while the attempt's
    (job id, attempt, worker id) still holds the job in status running, so a late
    or duplicate caller changes nothing. A store object may be used by several
    threads; it opens one connection per thread and per process, and a process
    made by fork() opens its own instead of using its parent's."""

    crosses_machines: bool = False
    """Whether daemons on other machines may share this store. Then each daemon keeps a
    lease, stops its jobs before the lease can run out unrenewed, and the others requeue
    the jobs of a daemon whose lease has run out."""

    # submitting -------------------------------------------------------
    @abc.abstractmethod
    def enqueue(self, jobs: Iterable[NewJob]) -> None:
        """Store all jobs or none. Unknown dependency ids or a cycle: UnknownDependency.
        A job whose dependency already failed or was cancelled is stored cancelled.
        `jobs` is read once; an error it raises stores nothing."""

    # running (the daemon's side) --------------------------------------
    @abc.abstractmethod
    def claim(self, worker_id: str, queues: Optional[Sequence[str]], limit: int = 1) -> list[ClaimedJob]:
        """Hand out up to `limit` ready jobs (pending, dependencies completed, due, queue
        not paused), best priority first, then submission order, each to one claimer
        only. Each becomes running on its next attempt. `queues` None means every queue."""

    @abc.abstractmethod
    def finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        """Record outcomes, each fenced by its claim; a claim given twice applies once.
        Completing unblocks dependents; a failure is retried (after its backoff) while
        attempts remain, else it ends the job and cancels everything downstream.
        Returns, per outcome, whether it applied."""

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
        """Give claimed jobs back to pending without spending their attempt (fenced).
        With a reason (a run stopped from outside, e.g. shutdown) the execution is kept as
        "interrupted"; without one (never started) it is removed. A released job whose
        cancel was requested is cancelled instead. Returns how many were released."""

    @abc.abstractmethod
    def running_claims(self) -> list[RunningClaim]:
        """Every running attempt with its owner's identity and heartbeat (a read)."""

    @abc.abstractmethod
    def requeue_orphans(self, judge: OrphanJudge) -> list[tuple[Claim, str]]:
        """Fail every running attempt whose owner `judge` finds dead, as finish() would
        (fenced, so a claim that moved on meanwhile is left alone; retried while attempts
        remain). Returns the claims failed, with the judge's reason."""

    @abc.abstractmethod
    def next_due(self) -> Optional[float]:
        """Epoch time when the earliest delayed or backing-off job becomes ready (a read)."""

    @abc.abstractmethod
    def parent_results(self, job_ids: Sequence[str]) -> dict[str, Any]:
        """Results of the given jobs, in the given order (None where absent) (a read)."""

    # registry of daemons and workers ----------------------------------
    @abc.abstractmethod
    def register_daemon(self, info: DaemonInfo, lease: float = 60.0) -> None:
        """Record a running daemon, replacing any record with its id (idempotent); its
        heartbeat is now and its lease runs for `lease` seconds, both by the store's clock."""

    @abc.abstractmethod
    def renew_lease(self, daemon_id: str, lease: float) -> bool:
        """Renew a daemon's lease for `lease` seconds from now by the store's clock (one
        statement). False if the daemon is not registered (then register it again).
        Another daemon may requeue the jobs of a daemon whose lease has run out."""

    @abc.abstractmethod
    def daemon_summaries(self) -> list[DaemonSummary]:
        """Every registered daemon with its running jobs and lease, oldest first (a read)."""

    @abc.abstractmethod
    def deregister_daemon(self, daemon_id: str) -> None:
        """Forget a stopping daemon and those of its workers that hold no running job
        (idempotent); workers still holding one stay, for orphan recovery to judge."""

    @abc.abstractmethod
    def daemons(self) -> list[DaemonInfo]:
        """Every registered daemon, oldest first (a read)."""

    @abc.abstractmethod
    def register_worker(self, worker_id: str, daemon_id: str, host: str, pid: int, pid_started: float) -> None:
        """Record a worker process and its daemon, replacing any record with its id (idempotent)."""

    @abc.abstractmethod
    def forget_worker(self, worker_id: str) -> None:
        """Drop a dead worker's record once none of its attempts is still running
        (idempotent; a worker still holding a job keeps its record)."""

    # queues -------------------------------------------------------------
    @abc.abstractmethod
    def pause_queue(self, queue: str) -> None:
        """Stop claims from `queue` ("*": from every queue) until resumed (idempotent).
        Running jobs go on; pending ones wait."""

    @abc.abstractmethod
    def resume_queue(self, queue: str) -> bool:
        """Undo pause_queue(queue); False if it was not paused."""

    @abc.abstractmethod
    def paused_queues(self) -> list[str]:
        """The paused queue names, sorted ("*" when every queue is paused) (a read)."""

    # managing (the client's side) -------------------------------------
    @abc.abstractmethod
    def get_job(self, job_id: str) -> Optional[dict[str, Any]]:
        """Everything about a job with its executions (the running one last), None if
        unknown (a read). Times are ISO 8601 strings in UTC, as GigQ returns them."""

    @abc.abstractmethod
    def get_result(self, job_id: str) -> tuple[bool, Optional[str], Any]:
        """(exists, status, result) (a read)."""

    @abc.abstractmethod
    def list_jobs(self, status: Optional[str], limit: int, queue: Optional[str]) -> list[dict[str, Any]]:
        """Up to `limit` jobs, newest first, optionally of one status and queue (a read)."""

    @abc.abstractmethod
    def stats(self, queue: Optional[str] = None) -> dict[str, int]:
        """Jobs per status (every status present, 0 if none) plus "total" (a read)."""

    @abc.abstractmethod
    def stats_by_queue(self) -> dict[str, dict[str, int]]:
        """stats() for each queue that holds jobs (a read)."""

    @abc.abstractmethod
    def cancel(self, job_id: str) -> bool:
        """Cancel a pending job and, by cascade, every pending job downstream of it;
        False if it is not pending."""

    @abc.abstractmethod
    def request_cancel(self, job_id: str) -> bool:
        """Flag a running job for its daemon to stop (idempotent); False if not running."""

    @abc.abstractmethod
    def cancel_requests(self) -> list[Claim]:
        """Running attempts flagged for cancellation (a read)."""

    @abc.abstractmethod
    def cancel_running(self, claim: Claim, reason: str, started: float, finished: float) -> bool:
        """End a running attempt as cancelled (fenced), cascading to dependents."""

    @abc.abstractmethod
    def requeue_job(self, job_id: str) -> bool:
        """Put a failed, timed-out or cancelled job back to pending with its attempts reset,
        reviving what its end cancelled downstream. False if it is in another state or
        still waits on a dependency that failed or was cancelled."""

    @abc.abstractmethod
    def clear_completed(self, before: Optional[float]) -> int:
        """Delete completed and cancelled jobs (finished before `before`, if given) with
        their executions; returns how many."""

    def enqueue_and_notify(self, jobs: list[NewJob]) -> None:
        """enqueue(), then notify_new_jobs(): what a submit does (a store may do both in
        one round trip). Raises only what enqueue() raises."""
        self.enqueue(jobs)
        self.notify_new_jobs()

    # what differs by backend, behind one name each ------------------------
    @abc.abstractmethod
    def notify_new_jobs(self) -> None:
        """Wake the daemons serving this store: jobs were just stored (call it after the
        enqueue committed, once per enqueue). Best effort: it never raises, and with no
        daemon listening it does nothing."""

    @abc.abstractmethod
    def listen_for_jobs(self, name: str) -> JobListener:
        """Open this process's doorbell, named `name` (unique per daemon: its id), for
        notify_new_jobs() in any process to ring. Register listener.address as the
        daemon's doorbell_path."""

    @abc.abstractmethod
    def checkpoint(self) -> None:
        """Housekeeping a worker may do while idle, or between jobs when checkpoint_due()
        (SQLite: copy the WAL back)."""

    @abc.abstractmethod
    def checkpoint_due(self) -> bool:
        """Cheap to ask after every job: True when enough housekeeping has built up that
        a worker should do it now rather than leave it to a writer (SQLite: a WAL
        backlog; its own checkpoint would run inside a commit, holding the write lock)."""

    @abc.abstractmethod
    def change_counter(self) -> Hashable:
        """A value that changes whenever another connection commits (cheap to read; compare
        with ==): a read made after reading it sees every commit made before it changed."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close the calling thread's connection (the next call opens a new one)."""
