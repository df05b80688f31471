"""A pooled worker process: boots, then claims and runs jobs until told to stop."""

from __future__ import annotations

import importlib
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from typing import NoReturn, Optional

from gigq_client import GigqError, fdwait
from gigq_client.execute import Executor, describe
from gigq_client.store import COMPLETED, JobListener

from .. import board, database, logs, processes, systemd, titles
from ..exits import WorkerExit
from ..settings import Settings
from .handback import HandBack
from .runner import JobRunner
from .streams import StandardStreams

STORE_RETRY_FIRST, STORE_RETRY_MAX = 0.25, 30.0
FENCED_POLL = 0.1  # seconds between looks at the fence while it holds
CHECKPOINT_AFTER_JOBS = 256  # below this a checkpoint on going idle costs more than it saves

__all__ = ["WorkerSpec", "worker_main"]


@dataclass
class WorkerSpec:
    """What the supervisor hands a worker it forks."""

    slot: int
    worker_id: str
    daemon_id: str
    wake_fd: int  # read end of the pipe the supervisor writes to: b"w" wake, b"s" stop; EOF = supervisor gone
    parent_pid: int
    settings: Settings
    board: board.Board
    inherited_fds: tuple[int, ...]  # the supervisor's descriptors, closed at once
    pool_size: int = 1  # workers wanted when this one was forked (scale changes it)
    doorbell: Optional[JobListener] = None  # the daemon's doorbell, when idle workers wait on it themselves


def worker_main(spec: WorkerSpec) -> NoReturn:
    """Entry point in the forked child; never returns."""
    code = WorkerExit.BOOT_FAILED
    try:
        _detach(spec)
        code = _boot_and_run(spec)
    except BaseException as error:  # the last line of defence: report, then exit with a code
        logs.get_logger(worker_id=spec.worker_id, pid=os.getpid()).error("worker_died", error=describe(error))
        code = WorkerExit.CRASHED
    finally:
        sys.stdout.flush()
        os._exit(code)


def _detach(spec: WorkerSpec) -> None:
    os.setpgid(0, 0)  # our own process group: a job's processes can be killed as one
    systemd.forget_in_child()  # only the supervisor speaks for the service
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP, signal.SIGCHLD, signal.SIGTTIN, signal.SIGTTOU):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor decides what Ctrl-C means
    for fd in spec.inherited_fds:
        try:
            os.close(fd)
        except OSError:
            pass
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)


def _boot_and_run(spec: WorkerSpec) -> int:
    settings, number = spec.settings, spec.slot + 1
    logs.use_private_stream()
    log = logs.get_logger(worker_id=spec.worker_id, slot=number, pid=os.getpid())
    titles.worker_idle(number)
    try:
        store = database.open_for(settings, queue_writes="unbounded")
        store.register_worker(spec.worker_id, spec.daemon_id, socket.gethostname(), os.getpid(), processes.start_time())
        for module in settings.imports:
            importlib.import_module(module)
    except BaseException as error:
        log.error("worker_boot_failed", error=describe(error))
        return WorkerExit.BOOT_FAILED
    slot = spec.board.writer(spec.slot)
    _start_heartbeat(spec, slot, log)
    executor = Executor(settings.allowed_modules, settings.max_result_bytes, store.parent_results)
    queues = settings.queues or None
    runner = JobRunner(store, spec.worker_id, queues, executor, settings.claim_batch, slot, log,
                       on_result=lambda job, result, seconds: _log_result(log, job, result, seconds),
                       share=spec.pool_size,
                       batch_outcomes=settings.record_outcomes == "batched")
    runner.pid = os.getpid()
    HandBack(runner, lambda: database.open_for(settings, queue_writes="unbounded"), log).start()
    log.debug("worker_booted")
    return PooledLoop(spec, runner, slot, log).run()


class PooledLoop:
    def __init__(self, spec: WorkerSpec, runner: JobRunner, slot: board.SlotWriter, log):
        self.spec, self.runner, self.slot, self.log = spec, runner, slot, log
        self.settings = spec.settings
        self.exit_code: int | None = None
        self.streams = StandardStreams()
        self.children = processes.ChildWatch()
        self.jobs_done = 0
        self.ran_since_idle = 0
        self.woken_by_ring = False  # drained the doorbell since the last claim

    def run(self) -> int:
        backoff = STORE_RETRY_FIRST
        while self.exit_code is None:
            try:
                self._step()
                backoff = STORE_RETRY_FIRST
            except GigqError as error:  # locked or full database: keep our outcomes, wait, try again
                self.log.error("store_write_failed", error=str(error), retry_in=backoff)
                self._read_messages(backoff)
                backoff = min(backoff * 2, STORE_RETRY_MAX)
        self.slot.set_state(board.STOPPING)
        titles.worker_stopping(self.spec.slot + 1)
        self._give_back()
        return self.exit_code

    def _step(self) -> None:
        # A failed write leaves the outcomes in the runner; the next step records them first.
        if self._orphaned():
            return
        if self._fenced():
            return
        if self.runner.has_work:
            self.ran_since_idle += 1
            self.runner.run_next()
            self._after_job()
            if self.runner.store.checkpoint_due():
                self.runner.store.checkpoint()  # outside the write turn: writers go on meanwhile
            if self.exit_code is None and self.slot.stop_requested():  # shared memory: no system call
                self.exit_code = WorkerExit.STOPPED
        elif not self._claim():
            self._idle()

    def _claim(self) -> int:
        claimed = self.runner.claim()  # on a store error the flag stays, for the retry
        if self.woken_by_ring:
            self.woken_by_ring = False
            if self.runner.left_jobs and self.spec.doorbell is not None:
                # The rings we drained may stand for jobs we left: a sibling that was
                # between its own (empty) claim and its wait missed them. Wake it.
                self.spec.doorbell.pass_on()
        return claimed

    def _orphaned(self) -> bool:
        """Looked at before every job and claim: once the supervisor is gone, start nothing."""
        if os.getppid() == self.spec.parent_pid:
            return False
        self._leave_orphaned()
        return True

    def _fenced(self) -> bool:
        """Past the board's fence the daemon's lease may run out: start nothing, keep
        what is finished, and wait for the supervisor to renew the lease (or stop us)."""
        fence_at = self.slot.fence_at()
        if not fence_at or time.monotonic() < fence_at:
            return False
        if self.runner.has_work:
            self.runner.set_aside_batch()
            self.log.warning("worker_fenced", reason="its daemon could not renew its lease; starting nothing")
        self.slot.set_state(board.IDLE)
        self._read_messages(FENCED_POLL)
        return True

    def _leave_orphaned(self) -> None:
        self.log.warning("worker_orphaned", reason="the supervisor is gone; recording finished work, then exiting")
        self.exit_code = WorkerExit.ORPHANED

    def _give_back(self) -> None:
        """Record what ran and release what did not start, on every way out. A store
        error is retried for up to graceful_timeout; after that the supervisor (or
        the next one) settles our claims from the board and the database."""
        deadline = time.monotonic() + self.settings.graceful_timeout
        backoff = STORE_RETRY_FIRST
        while True:
            try:
                self.runner.give_back()
                return
            except GigqError as error:
                if time.monotonic() + backoff > deadline:
                    self.log.error("worker_outcomes_abandoned", error=str(error), outcomes=len(self.runner.outcomes))
                    return
                self.log.error("store_write_failed", error=str(error), retry_in=backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, STORE_RETRY_MAX)

    def _idle(self) -> None:
        if self.ran_since_idle >= CHECKPOINT_AFTER_JOBS:
            self.runner.store.checkpoint()  # a burst ended: pay for the WAL copy now, not mid-burst
            self.ran_since_idle = 0
        self.slot.set_state(board.IDLE)
        titles.worker_idle(self.spec.slot + 1)
        wait = self.settings.poll_interval
        due = self.runner.store.next_due()
        if due is not None:
            wait = max(0.0, min(wait, due - time.time()))
        deadline = time.monotonic() + wait
        while not self._read_messages(wait, self.spec.doorbell) and self.exit_code is None:
            wait = deadline - time.monotonic()  # a sibling drained the ring first: it claims, or passes it on
            if wait <= 0:
                return

    def _read_messages(self, timeout: float, doorbell: Optional[JobListener] = None) -> bool:
        """Wait for the supervisor's word and, when idle, the doorbell; False when only the
        doorbell woke us and a sibling had drained it first (all idle workers wake on a ring).
        A job committed after our last claim rings after it; its datagram waits in the
        socket until a worker drains it, and whoever drains it claims next and, if that
        claim may have left jobs, rings again (_claim), so no ring is lost."""
        fds = [self.spec.wake_fd] if doorbell is None else [self.spec.wake_fd, doorbell.fileno()]
        ready = fdwait.readable_among(fds, timeout)
        if self.spec.wake_fd in ready:
            self._take_message()
        rang = False
        if doorbell is not None and doorbell.fileno() in ready and self.exit_code is None:
            rang = doorbell.drain()  # a stopping worker leaves the rings to the others
            self.woken_by_ring |= rang
        return rang or not ready or self.spec.wake_fd in ready

    def _take_message(self) -> None:
        data = os.read(self.spec.wake_fd, 4096)
        if not data:  # EOF: the supervisor's end closed (it may not have been reparented yet)
            self._leave_orphaned()
        elif b"s" in data:
            self.exit_code = WorkerExit.STOPPED

    def _after_job(self) -> None:
        self.streams.restore()
        self.jobs_done += 1
        if self.children.any():
            processes.kill_descendants()  # nothing a job started outlives the job
        recycle = self._recycle_reason()
        if recycle:
            self.log.info("worker_recycled", reason=recycle)
            self.exit_code = WorkerExit.RECYCLED

    def _recycle_reason(self) -> str:
        done = self.jobs_done
        if self.settings.max_jobs_per_worker and done >= self.settings.max_jobs_per_worker:
            return f"ran {done} jobs (max_jobs_per_worker)"
        if self.settings.max_memory_per_worker:
            rss = processes.rss_mib()
            if rss > self.settings.max_memory_per_worker:
                return f"RSS {rss:.0f} MiB is over max_memory_per_worker ({self.settings.max_memory_per_worker} MiB)"
        return ""


def _start_heartbeat(spec: WorkerSpec, slot: board.SlotWriter, log) -> None:
    """Beat while the job loop runs. Once the supervisor is gone nobody watches the
    running job: let it finish (the job loop then records it and exits), but kill it,
    with everything it started, when it passes its own timeout."""
    def beat() -> None:
        while True:
            slot.beat()
            view = spec.board.read(spec.slot)
            if os.getppid() != spec.parent_pid and _past_timeout(view):
                log.warning("job_killed", job_id=view.running_job.job_id, reason="ran past its timeout of "
                            f"{view.timeout:g} s after its supervisor died")
                processes.kill_descendants()
                os._exit(WorkerExit.ORPHANED)
            if view.running_job is not None and _past_fence(slot.fence_at(), spec.settings):
                log.warning("job_killed", job_id=view.running_job.job_id,
                            reason="its daemon's lease was not renewed, and its supervisor did not stop it")
                processes.kill_descendants()
                os._exit(WorkerExit.FENCED)
            if view.state == board.RUNNING and view.running_job is not None:
                running_for = time.monotonic() - view.started
                titles.worker_running(spec.slot + 1, view.job_name, view.running_job.job_id, running_for)
            time.sleep(spec.settings.heartbeat_interval)

    threading.Thread(target=beat, name="gigqd-heartbeat", daemon=True).start()


def _past_fence(fence_at: float, settings: Settings) -> bool:
    """The backstop: the supervisor stops a running job at the fence (TERM, KILL after
    kill_grace); if it has not (frozen, or dead), the worker does it itself, still
    before its daemon's lease can run out (see the timing in docs/reliability.md)."""
    return bool(fence_at) and time.monotonic() > fence_at + settings.kill_grace + settings.heartbeat_interval


def _past_timeout(view: board.SlotView) -> bool:
    return view.running_job is not None and view.started > 0 and time.monotonic() - view.started > view.timeout


def _log_result(log, job, result, seconds: float) -> None:
    if result.status == COMPLETED:
        log.debug("job_completed", job_id=job.job_id, job_name=job.name, attempt=job.claim.attempt,
                  seconds=round(seconds, 6))
    else:
        log.warning("job_failed", job_id=job.job_id, job_name=job.name, attempt=job.claim.attempt,
                    error=result.error, retryable=result.retryable)
