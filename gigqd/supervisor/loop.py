"""The supervisor: start-up, one single-threaded loop, and shutdown. The only sender of signals."""

from __future__ import annotations

import os
import selectors
import signal
import socket
import time
import uuid
from typing import Any, Mapping, Optional

from gigq_client import GigqError, liveness
from gigq_client.store import DaemonInfo, JobListener, Store

from .. import __version__, config, database, files, logs, processes, sharing, systemd, titles
from ..board import BOOTING, STARTED, Board
from ..control import commands
from ..control.server import ControlServer
from ..exits import describe
from ..settings import Settings
from . import recovery, signals, status, watchdog
from .children import Child
from .duties import PeriodicDuties
from .lease import LeaseKeeper
from .pool import BOARD_SLOTS, Pool
from .status import Throughput
from .timers import Timers


class Supervisor(PeriodicDuties):
    def __init__(self, settings: Settings, config_path: Optional[str] = None,
                 overrides: Optional[Mapping[str, Any]] = None):
        settings.db = database.location(settings.db)  # recorded for clients started elsewhere
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
        self.store: Optional[Store] = None
        self.doorbell: Optional[JobListener] = None  # None with wakeups = "poll"
        self.doorbell_trouble = ""  # why the doorbell is down, as last logged
        self.stopping: Optional[str] = None  # None, "graceful" or "fast"
        self.stop_deadline = 0.0
        self.started = time.monotonic()
        self.started_at = time.time()
        self.control: Optional[ControlServer] = None
        self.throughput = Throughput()
        self.cancels: set[str] = set()  # jobs to stop as soon as they are seen running
        self.departures: list[recovery.Departure] = []  # reaped workers whose leftovers are still dying
        self.strays_checked_at = -1
        self.notifier = systemd.Notifier()
        self.timers = Timers()

    # lifecycle ------------------------------------------------------------
    def run(self) -> int:
        self.start()
        try:
            while not (self.stopping and len(self.pool.children) == 0 and not self.departures):
                self.tick()
        finally:
            self.close()
        return 0

    def start(self) -> None:
        settings = self.settings
        self.store = database.open_for_supervisor(settings)
        if settings.socket_group:
            database.share_with_group(settings)
        processes.become_subreaper()
        if settings.wakeups == "listen":
            self.doorbell = self.store.listen_for_jobs(f"gigqd-{self.daemon_id}")
            if self.doorbell.shared_by_fork:  # idle workers wait on it themselves: no hop through us
                self.pool.doorbell = self.doorbell
            else:
                self.selector.register(self.doorbell, selectors.EVENT_READ, self._on_doorbell)
        self.control = ControlServer(database.control_socket(settings), settings.socket_mode, settings.socket_group,
                                     commands.handlers(self), self.selector, self.log)
        self.control.listen()
        self.inbox.install()
        self.selector.register(self.inbox.read_fd, selectors.EVENT_READ, self._on_signals)
        self.lease = LeaseKeeper(self.store, self._daemon_info, lambda: self.settings, self.board, self.log)
        self.lease.register()
        self._add_timers()
        self.pool.maintain()
        titles.supervisor(database.shown(settings.db), self.pool.desired)
        self._write_pid_file()
        self.log.info("daemon_started", db=database.shown(settings.db), workers=self.pool.desired,
                      queues=settings.queues or "all")
        self.notifier.ready(self._summary())

    def tick(self) -> None:
        for key, _ in self.selector.select(self._wait_time()):
            key.data()
        self._reap()
        self._settle_departures()
        self._watch()
        if not self.stopping and not self.lease.lost:  # fenced: fork nothing that would only fail
            self.pool.maintain()
        now = time.monotonic()
        self.notifier.ping_if_due(now)  # the loop is turning: tell systemd's watchdog
        self.timers.run_due(now)

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

    # requests: what the control socket and signals may ask ------------------------
    def identity(self) -> dict[str, Any]:
        return {"pid": self.pid, "daemon_id": self.daemon_id}

    def stop(self, fast: bool = False) -> str:
        """Stop gracefully (running jobs finish), or at once; a second request hurries the first."""
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
        return self.stopping

    def reload(self) -> Optional[str]:
        """Re-read the configuration and roll the workers over; the error, if it was refused."""
        if self.stopping:
            return "the daemon is stopping"
        self.notifier.reloading()
        try:
            fresh = config.load(self.config_path, self.overrides)
        except GigqError as error:
            self.log.error("config_reload_failed", error=str(error))
            self.notifier.ready(self._summary())  # systemd waits for READY=1 after RELOADING=1, either way
            return str(error)
        fresh.db = database.location(fresh.db)
        if fresh.db != self.settings.db:
            self.log.warning("config_reload_failed",
                             error="db cannot change while running; keeping " + database.shown(self.settings.db))
            fresh.db = self.settings.db
        refused = sharing.refusal(fresh)  # the files may have been opened to others since we started
        if refused:
            self.log.error("config_reload_failed", error=refused)
            self.notifier.ready(self._summary())
            return refused
        self.settings = fresh
        self.pool.apply(fresh)
        titles.supervisor(database.shown(fresh.db), self.pool.desired)
        self.log.info("config_reloaded", workers=self.pool.desired)
        self.notifier.ready(self._summary())
        return None

    def scale(self, workers: int) -> int:
        desired = self.pool.scale(workers)
        titles.supervisor(database.shown(self.settings.db), desired)
        self.log.info("pool_scaled", workers=desired)
        return desired

    def workers_wanted(self) -> int:
        return self.pool.desired

    def wake_workers(self) -> None:
        self.pool.wake_idle()

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
        self.timers.soon("cancel_check", time.monotonic())
        return False

    def status(self) -> dict:
        settings = self.settings
        daemon = {
            "pid": self.pid, "daemon_id": self.daemon_id, "host": self.host, "db": database.shown(settings.db),
            "uptime": round(time.monotonic() - self.started, 1), "workers": self.pool.desired,
            "queues": settings.queues, "stopping": self.stopping,
            "jobs_per_minute": round(self.throughput.per_minute(), 1), "socket": database.control_socket(settings),
        }
        children = sorted(self.pool.children, key=lambda c: c.slot)
        return status.report(daemon, self.store, [status.worker(c, self.board.read(c.slot)) for c in children])

    # the loop's parts ---------------------------------------------------------
    def _on_signals(self) -> None:
        for signum in self.inbox.take():
            if signum == signal.SIGCHLD:
                continue
            self.log.info("signal_received", signal=processes.signal_name(signum))
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
        if self.doorbell.drain():
            self.pool.wake_idle()
        trouble = self.doorbell.trouble()
        if bool(trouble) != bool(self.doorbell_trouble):  # only the changes: an outage logs one line
            if trouble:
                self.log.warning("doorbell_disconnected", error=trouble, reason="until it is back, idle workers "
                                 f"find new jobs by polling, every {self.settings.poll_interval:g} s")
            else:
                self.log.info("doorbell_reconnected")
        self.doorbell_trouble = trouble

    def _reap(self) -> None:
        for child, _pid, wait_status in self.pool.children.reap():
            if child is not None:
                self._worker_ended(child, wait_status)

    def _worker_ended(self, child: Child, wait_status: int) -> None:
        ended = describe(wait_status)
        view = self.board.read(child.slot)  # after waitpid(): every store of the dead worker is visible
        self.throughput.retired += view.jobs_done
        self.departures.append(recovery.begin_departure(child, view, ended))
        fields = dict(worker_id=child.worker_id, worker_pid=child.pid, slot=child.slot + 1, exit=ended.text)
        if child.kill is not None:
            fields["killed_because"] = child.kill.detail
        event = watchdog.end_event(ended, killed=child.kill is not None)
        (self.log.info if event == "worker_exited" else self.log.warning)(event, **fields)
        if watchdog.counts_as_boot_failure(ended, view.state, child.kill is not None, child.retiring):
            self.pool.worker_ended(child, booted=False)

    def _settle_departures(self) -> None:
        """Record a dead worker's claims once nothing its job started is alive (the job may run again then)."""
        if not self.departures:
            return
        adopted = recovery.adopted(self.pool.worker_pids())
        now = time.monotonic()
        for departure in list(self.departures):
            if recovery.still_running(departure, adopted):
                if not watchdog.leftovers_overdue(departure.since, now):
                    continue
                self.log.warning("worker_leftovers_abandoned", worker_id=departure.child.worker_id,
                                 pids=[p.pid for p in departure.leftovers], seconds=round(now - departure.since, 1))
            self.departures.remove(departure)
            recovery.settle(self.store, departure.child, departure.view, departure.ended, self.stopping is not None,
                            self.log)

    def _watch(self) -> None:
        now = time.monotonic()
        for child in self.pool.children:
            if child.kill is None:
                kill = watchdog.overdue(child.slot, self.board.read(child.slot), child.worker_id, now,
                                        self.settings.heartbeat_timeout)
                if kill is not None:
                    self._begin_kill(child, kill)
            elif not child.kill_sent and watchdog.sigkill_due(child.term_sent_at, now, self.settings.kill_grace):
                self._send_sigkill(child)
            if child.kill is None and self.pool.boot_failures and self.board.read(child.slot).state != BOOTING:
                self.pool.worker_ended(child, booted=True)
        if self.stopping == "graceful" and now >= self.stop_deadline:
            for child in self.pool.children:
                self._begin_kill(child, watchdog.Kill(child.slot, watchdog.SHUTDOWN, "graceful_timeout passed"))
        if self.lease.fenced(now):
            for child in self.pool.children:
                if self.board.read(child.slot).started > 0:
                    self._begin_kill(child, watchdog.Kill(child.slot, watchdog.FENCED,
                                                          "its daemon's lease could not be renewed"))

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
            self._send_sigkill(child)

    def _send_sigkill(self, child: Child) -> None:
        processes.signal_tree(child.pid, signal.SIGKILL, child.tree)
        child.kill_sent = True
        self.log.warning("worker_killed", worker_id=child.worker_id, worker_pid=child.pid, signal="SIGKILL")

    def _wait_time(self) -> float:
        watching = bool(self.stopping or self.cancels) or any(
            c.kill or c.retiring or self.board.read(c.slot).started > 0 for c in self.pool.children)
        respawn_in = self.pool.not_before - time.monotonic() if len(self.pool.active()) < self.pool.desired else None
        wait = watchdog.tick_wait(watching, bool(self.departures), respawn_in)
        to_fence = self.lease.seconds_to_fence(time.monotonic())
        return min(wait, self.timers.seconds_to_next(time.monotonic()), wait if to_fence is None else to_fence)

    def _daemon_info(self) -> DaemonInfo:
        now = time.time()
        return DaemonInfo(
            self.daemon_id, self.host, self.pid, processes.start_time(), self.started_at, now,
            socket_path=database.control_socket(self.settings), queues=",".join(self.settings.queues),
            doorbell_path=self.doorbell.address if self.doorbell else "", machine=liveness.machine(),
            extra={"version": __version__, "workers": self.pool.desired},
        )

    def _summary(self) -> str:
        busy = sum(1 for c in self.pool.children if self.board.read(c.slot).running_job is not None)
        stopping = f", stopping ({self.stopping})" if self.stopping else ""
        return (f"{len(self.pool.active())}/{self.pool.desired} workers, {busy} busy, "
                f"{self.throughput.per_minute():.0f} jobs/min{stopping}")

    # sockets and files ----------------------------------------------------------
    def _private_fds(self) -> list[int]:
        """Descriptors a forked worker must close: they belong to the supervisor."""
        fds = [self.inbox.read_fd, self.inbox.write_fd, *self.pool.children.fds()]
        if self.control is not None:
            fds += self.control.fds()
        if self.doorbell is not None and not self.doorbell.shared_by_fork:
            fds += self.doorbell.fds()
        try:
            fds.append(self.selector.fileno())
        except (AttributeError, ValueError):
            pass
        return fds

    def _write_pid_file(self) -> None:
        if self.settings.pid_file:
            files.write_private(self.settings.pid_file, f"{os.getpid()}\n")
