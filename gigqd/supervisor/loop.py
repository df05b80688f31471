"""The supervisor: start-up, one single-threaded loop, and shutdown. The only sender of signals."""

from __future__ import annotations

import os
import selectors
import signal
import socket
import time
import uuid
from typing import Any, Mapping, Optional

from gigq_client import GigqError
from gigq_client.store import DaemonInfo, SqliteStore
from gigq_client.store.sqlite import turns

from .. import config, files, logs, processes, systemd, titles
from . import recovery, signals, watchdog
from ..board import BOOTING, STARTED, Board
from .children import Child, describe_exit
from ..control import commands
from ..control.server import ControlServer
from .pool import BOARD_SLOTS, Pool
from ..settings import Settings
from .status import Throughput, report

IDLE_WAIT = 1.0
BUSY_WAIT = 0.1
QUICK_ORPHAN_RECHECK = 1.0
CANCEL_CHECK_INTERVAL = 1.0
STRAY_CHECK_INTERVAL = 2.0
STATUS_INTERVAL = 5.0  # how often systemd's one-line STATUS= is refreshed


class Supervisor:
    def __init__(self, settings: Settings, config_path: Optional[str] = None, overrides: Optional[Mapping[str, Any]] = None):
        settings.db = os.path.abspath(settings.db)  # recorded for clients started elsewhere
        self.settings = settings
        self.config_path, self.overrides = config_path, dict(overrides or {})
        self.daemon_id = str(uuid.uuid4())
        self.pid = os.getpid()
        self.host = socket.gethostname()
        self.log = logs.get_logger(daemon_id=self.daemon_id[:8], pid=os.getpid())
        self.board = Board(BOARD_SLOTS)
        self.inbox = signals.SignalInbox()
        self.selector = selectors.DefaultSelector()
        self.pool = Pool(settings, self.daemon_id, self.board, self.log, self._private_fds)
        self.store: Optional[SqliteStore] = None
        self.doorbell: Optional[socket.socket] = None
        self.stopping: Optional[str] = None  # None, "graceful" or "fast"
        self.stop_deadline = 0.0
        self.started = time.monotonic()
        self.next_heartbeat = 0.0
        self.next_orphan_check = 0.0
        self.control: Optional[ControlServer] = None
        self.throughput = Throughput()
        self.cancels: set[str] = set()  # jobs to stop as soon as they are seen running
        self.next_cancel_check = 0.0
        self.next_stray_check = 0.0
        self.strays_checked_at = -1
        self.notifier = systemd.Notifier()
        self.next_status = 0.0

    # lifecycle ------------------------------------------------------------
    def run(self) -> int:
        self.start()
        try:
            while not (self.stopping and len(self.pool.children) == 0):
                self.tick()
        finally:
            self.close()
        return 0

    def start(self) -> None:
        settings = self.settings
        # "off": no helper thread in the process that forks the workers.
        self.store = SqliteStore(settings.db, busy_timeout=settings.busy_timeout, synchronous=settings.synchronous,
                                 queue_writes="off")
        if settings.socket_group:
            turns.create_lock_file(settings.db, files.PRIVATE)  # clients of the group take their turns on it too
            for path in (settings.db, settings.db + "-wal", settings.db + "-shm", settings.db + ".lock"):
                if os.path.exists(path):
                    files.share_with_group(path, settings.socket_group)
        processes.become_subreaper()
        self._open_doorbell()
        self.control = ControlServer(settings.control_socket(), settings.socket_mode, settings.socket_group,
                                     commands.handlers(self), self.selector, self.log)
        self.control.listen()
        self.inbox.install()
        self.selector.register(self.inbox.read_fd, selectors.EVENT_READ, self._on_signals)
        now = time.time()
        self.store.register_daemon(DaemonInfo(
            self.daemon_id, self.host, os.getpid(), processes.start_time(), now, now,
            socket_path=settings.control_socket(), doorbell_path="@" + self._doorbell_name(),
            queues=",".join(settings.queues),
        ))
        self._check_orphans()
        self.pool.maintain()
        titles.supervisor(settings.db, self.pool.desired)
        self._write_pid_file()
        self.log.info("daemon_started", db=settings.db, workers=self.pool.desired, queues=settings.queues or "all")
        self.notifier.ready(self._summary())

    def tick(self) -> None:
        for key, _ in self.selector.select(self._wait_time()):
            key.data()
        self._reap()
        self._watch()
        if not self.stopping:
            self.pool.maintain()
        self._periodic()

    def close(self) -> None:
        self.inbox.uninstall()
        if self.control is not None:
            self.control.close()
        if self.store is not None:
            try:
                self.store.deregister_daemon(self.daemon_id)
            except GigqError as error:
                self.log.error("daemon_stopped", error=str(error))
        if self.doorbell is not None:
            self.doorbell.close()
        if self.settings.pid_file:
            try:
                os.unlink(self.settings.pid_file)
            except OSError:
                pass
        self.log.info("daemon_stopped")

    # requests ---------------------------------------------------------------
    def stop(self, fast: bool = False) -> None:
        self.notifier.stopping()
        if fast or self.stopping == "graceful":
            self.stopping = "fast"
            for child in self.pool.children:
                self._begin_kill(child, watchdog.Kill(child.slot, watchdog.SHUTDOWN, "fast stop"))
        elif not self.stopping:
            self.stopping = "graceful"
            self.stop_deadline = time.monotonic() + self.settings.graceful_timeout
            self.pool.retire_all()
        self.log.info("daemon_stopping_requested", mode=self.stopping)

    def reload(self) -> Optional[str]:
        """Re-read the configuration and roll the workers over; the error, if it was refused."""
        self.notifier.reloading()
        try:
            fresh = config.load(self.config_path, self.overrides)
        except GigqError as error:
            self.log.error("config_reload_failed", error=str(error))
            self.notifier.ready(self._summary())  # systemd waits for READY=1 after RELOADING=1, either way
            return str(error)
        fresh.db = os.path.abspath(fresh.db)
        if fresh.db != self.settings.db:
            self.log.warning("config_reload_failed", error="db cannot change while running; keeping " + self.settings.db)
            fresh.db = self.settings.db
        self.settings = fresh
        self.pool.apply(fresh)
        titles.supervisor(fresh.db, self.pool.desired)
        self.log.info("config_reloaded", workers=self.pool.desired)
        self.notifier.ready(self._summary())
        return None

    def scale(self, workers: int) -> int:
        desired = self.pool.scale(workers)
        titles.supervisor(self.settings.db, desired)
        self.log.info("pool_scaled", workers=desired)
        return desired

    def cancel_job(self, job_id: str) -> bool:
        """Stop a running job of ours now; one not started yet is stopped when it starts."""
        for child in self.pool.children:
            job = self.board.read(child.slot).running_job
            if job is not None and job.job_id == job_id and job.phase == STARTED:
                claim = watchdog.Claim(job.job_id, job.attempt, child.worker_id)
                self._begin_kill(child, watchdog.Kill(child.slot, watchdog.CANCEL, "cancelled by request", claim))
                self.cancels.discard(job_id)
                return True
        self.cancels.add(job_id)
        return False

    def status(self) -> dict:
        return report(self)

    # the loop's parts ---------------------------------------------------------
    def _on_signals(self) -> None:
        for signum in self.inbox.take():
            if signum == signal.SIGCHLD:
                continue
            self.log.info("signal_received", signal=signals.name(signum))
            if signum in (signal.SIGTERM, signal.SIGINT):
                self.stop()
            elif signum == signal.SIGQUIT:
                self.stop(fast=True)
            elif signum == signal.SIGHUP and not self.stopping:
                self.reload()
            elif signum == signal.SIGTTIN and not self.stopping:
                self.scale(self.pool.desired + 1)
            elif signum == signal.SIGTTOU and not self.stopping:
                self.scale(self.pool.desired - 1)

    def _on_doorbell(self) -> None:
        try:
            while self.doorbell.recv(64):
                pass
        except BlockingIOError:
            pass
        self.pool.wake_idle()

    def _reap(self) -> None:
        for child, pid, status in self.pool.children.reap():
            if child is not None:
                self._worker_ended(child, status)

    def _worker_ended(self, child: Child, status: int) -> None:
        ended = describe_exit(status)
        view = self.board.read(child.slot)
        self.throughput.retired += view.jobs_done
        recovery.kill_leftovers(child, self.pool.worker_pids())
        recovery.settle(self.store, child, view, ended, self.stopping is not None, self.log)
        event = "worker_exited" if ended.kind in ("stopped", "recycled") and child.kill is None else "worker_died"
        fields = dict(worker_id=child.worker_id, worker_pid=child.pid, slot=child.slot + 1, exit=ended.text)
        if child.kill is not None:
            fields["killed_because"] = child.kill.detail
        (self.log.info if event == "worker_exited" else self.log.warning)(event, **fields)
        if ended.kind == "boot_failed" or (view.state == BOOTING and child.kill is None and not child.retiring):
            self.pool.worker_ended(child, booted=False)

    def _watch(self) -> None:
        now = time.monotonic()
        for child in self.pool.children:
            if child.kill is None:
                kill = watchdog.overdue(child.slot, self.board.read(child.slot), child.worker_id, now,
                                        self.settings.heartbeat_timeout)
                if kill is not None:
                    self._begin_kill(child, kill)
            elif not child.kill_sent and now - child.term_sent_at >= self.settings.kill_grace:
                processes.signal_tree(child.pid, signal.SIGKILL, child.tree)
                child.kill_sent = True
                self.log.warning("worker_killed", worker_id=child.worker_id, worker_pid=child.pid, signal="SIGKILL")
            if child.kill is None and self.board.read(child.slot).state != BOOTING and self.pool.boot_failures:
                self.pool.worker_ended(child, booted=True)
        if self.stopping == "graceful" and now >= self.stop_deadline:
            for child in self.pool.children:
                if child.kill is None:
                    self._begin_kill(child, watchdog.Kill(child.slot, watchdog.SHUTDOWN, "graceful_timeout passed"))

    def _begin_kill(self, child: Child, kill: watchdog.Kill) -> None:
        if child.kill is not None:
            return
        child.kill = kill
        child.tree = processes.terminate_tree(child.pid)
        child.term_sent_at = time.monotonic()
        event = {watchdog.HUNG: "worker_hung", watchdog.TIMEOUT: "job_killed"}.get(kill.reason, "worker_killed")
        self.log.warning(event, worker_id=child.worker_id, worker_pid=child.pid, reason=kill.detail,
                         job_id=kill.claim.job_id if kill.claim else None, signal="SIGTERM")
        if self.settings.kill_grace <= 0:
            processes.signal_tree(child.pid, signal.SIGKILL, child.tree)
            child.kill_sent = True

    def _periodic(self) -> None:
        now = time.monotonic()
        self.notifier.ping_if_due(now)  # the loop is turning: tell systemd's watchdog
        if now >= self.next_status and self.notifier.enabled:
            self.next_status = now + STATUS_INTERVAL
            self.notifier.status(self._summary())
        done = sum(self.board.read(c.slot).jobs_done for c in self.pool.children)
        self.throughput.sample(done, now)
        if now >= self.next_cancel_check and not self.stopping:
            self._check_cancels()
        if now >= self.next_heartbeat and not self.stopping:
            self.next_heartbeat = now + self.settings.lease / 4
            self._store_call(self.store.heartbeat, self.daemon_id, time.time())
        if now >= self.next_orphan_check and not self.stopping:
            self._check_orphans()
        if now >= self.next_stray_check and self.throughput.total() != self.strays_checked_at:
            # Only a job can leave a stray, so an idle pool is not scanned (it walks /proc).
            self.next_stray_check = now + STRAY_CHECK_INTERVAL
            self.strays_checked_at = self.throughput.total()
            self._kill_strays()

    def _summary(self) -> str:
        busy = sum(1 for c in self.pool.children if self.board.read(c.slot).running_job is not None)
        return (f"{len(self.pool.active())}/{self.pool.desired} workers, {busy} busy, "
                f"{self.throughput.per_minute():.0f} jobs/min" + (f", stopping ({self.stopping})" if self.stopping else ""))

    def _kill_strays(self) -> None:
        """A process a job double-forked to escape is adopted by us (subreaper): kill it."""
        for process in recovery.adopted(self.pool.worker_pids()):
            recovery.kill_quietly(process)
            self.log.warning("orphan_process_killed", stray_pid=process.pid, reason="escaped from a job")

    def _check_cancels(self) -> None:
        """Act on cancel requests written to the database (gigqctl cancel, or any client)."""
        self.next_cancel_check = time.monotonic() + (BUSY_WAIT if self.cancels else CANCEL_CHECK_INTERVAL)
        ours = {c.worker_id for c in self.pool.children}
        requested = self._store_call(self.store.cancel_requests) or []
        self.cancels = set()  # rebuilt: cancel_job watches again whatever has not started yet
        for claim in requested:
            if claim.worker_id in ours:
                self.cancel_job(claim.job_id)

    def _check_orphans(self) -> None:
        judge = watchdog.OrphanJudge(self.host, processes.alive, time.time(), self.settings.lease,
                                     own_workers={c.worker_id for c in self.pool.children})
        requeued = self._store_call(self.store.requeue_orphans, judge) or []
        for claim, reason in requeued:
            self.log.warning("job_requeued", job_id=claim.job_id, attempt=claim.attempt, worker_id=claim.worker_id, reason=reason)
        if requeued:
            self.log.info("orphans_requeued", count=len(requeued))
        soon = judge.waiting_on_exit and time.monotonic() - self.started < 120
        self.next_orphan_check = time.monotonic() + (QUICK_ORPHAN_RECHECK if soon else self.settings.orphan_check_interval)

    def _store_call(self, operation, *args):
        try:
            return operation(*args)
        except GigqError as error:
            self.log.error("supervisor_loop_failed", operation=operation.__name__, error=str(error))
            return None

    def _wait_time(self) -> float:
        busy = any(c.kill or c.retiring for c in self.pool.children) or self.stopping or self.cancels
        busy = busy or any(self.board.read(c.slot).started > 0 for c in self.pool.children)
        wait = BUSY_WAIT if busy else IDLE_WAIT
        if len(self.pool.active()) < self.pool.desired:
            wait = min(wait, max(0.0, self.pool.not_before - time.monotonic()))
        return wait

    # sockets and files ----------------------------------------------------------
    def _doorbell_name(self) -> str:
        return f"gigqd-{self.daemon_id}"

    def _open_doorbell(self) -> None:
        self.doorbell = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.doorbell.bind("\0" + self._doorbell_name())
        self.doorbell.setblocking(False)
        self.selector.register(self.doorbell, selectors.EVENT_READ, self._on_doorbell)

    def _private_fds(self) -> list[int]:
        """Descriptors a forked worker must close: they belong to the supervisor."""
        fds = [self.inbox.read_fd, self.inbox.write_fd, *self.pool.children.fds()]
        if self.control is not None:
            fds += self.control.fds()
        if self.doorbell is not None:
            fds.append(self.doorbell.fileno())
        try:
            fds.append(self.selector.fileno())
        except (AttributeError, ValueError):
            pass
        return fds

    def _write_pid_file(self) -> None:
        if self.settings.pid_file:
            files.write_private(self.settings.pid_file, f"{os.getpid()}\n")
