"""The pool of workers: fork into free slots, retire, roll over on reload, back off crash loops."""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Optional

from gigq_client.store import JobListener

from ..board import Board
from ..settings import MAX_WORKERS, Settings
from ..worker.main import WorkerSpec, worker_main
from . import watchdog
from .children import Child, Children

BOARD_SLOTS = 2 * MAX_WORKERS + 8  # room for a whole pool of replacements while the old one finishes


class Pool:
    def __init__(self, settings: Settings, daemon_id: str, board: Board, log: Any,
                 private_fds: Callable[[], list[int]]):
        self.settings, self.daemon_id, self.board, self.log = settings, daemon_id, board, log
        self.children = Children()
        self.desired = settings.workers
        self.generation = 0
        self.boot_failures = 0
        self.not_before = 0.0  # no fork before this monotonic time (crash-loop backoff)
        self._private_fds = private_fds
        self.doorbell: Optional[JobListener] = None  # a doorbell the workers wait on themselves

    def active(self) -> list[Child]:
        return [c for c in self.children if not c.retiring and c.kill is None]

    def maintain(self) -> None:
        """Roll old workers over one at a time, then fork or retire to reach the desired size."""
        active = self.active()
        old = [c for c in active if c.generation < self.generation]
        if old and not any(c.generation < self.generation and (c.retiring or c.kill) for c in self.children):
            self.retire(self._pick(old), "reload")
            active = self.active()
        while len(active) < self.desired and time.monotonic() >= self.not_before:
            active.append(self.spawn())
        while len(active) > self.desired:
            child = self._pick(active)
            self.retire(child, "scale down")
            active.remove(child)

    def spawn(self) -> Child:
        slot = min(set(range(BOARD_SLOTS)) - self.children.slots_in_use())
        self.board.reset(slot, 0)
        settings, daemon_id, board, doorbell = self.settings, self.daemon_id, self.board, self.doorbell
        parent_pid, inherited, pool_size = os.getpid(), tuple(self._private_fds()), self.desired

        def child_main(read_fd: int) -> None:
            worker_id = _worker_id(daemon_id, slot, os.getpid())
            worker_main(WorkerSpec(slot, worker_id, daemon_id, read_fd, parent_pid, settings, board, inherited,
                                   pool_size, doorbell))

        child = self.children.fork(slot, "", self.generation, child_main)
        child.worker_id = _worker_id(daemon_id, slot, child.pid)
        self.log.info("worker_spawned", worker_id=child.worker_id, slot=slot + 1, worker_pid=child.pid)
        return child

    def retire(self, child: Child, why: str) -> None:
        child.retiring = True
        self.board.request_stop(child.slot)  # seen between jobs
        self.children.tell(child, b"s")  # wakes it if idle
        self.log.info("worker_stop_requested", worker_id=child.worker_id, worker_pid=child.pid, reason=why)

    def retire_all(self) -> None:
        for child in self.children:
            if not child.retiring:
                self.retire(child, "daemon stopping")

    def wake_idle(self) -> None:
        for child in self.children:
            if not child.retiring and watchdog.hears_wake_ups(self.board.read(child.slot).state):
                self.children.tell(child, b"w")

    def worker_ended(self, child: Child, booted: bool) -> None:
        """Count start-up deaths: each one in a row doubles the wait before the next fork."""
        if booted:
            self.boot_failures = 0
            return
        self.boot_failures += 1
        delay = watchdog.respawn_delay(self.boot_failures, self.settings.restart_backoff_max)
        self.not_before = time.monotonic() + delay
        self.log.warning("worker_respawn_delayed", seconds=delay, failures_in_a_row=self.boot_failures)

    def apply(self, settings: Settings) -> None:
        """New settings: new workers get them; old ones are replaced one by one."""
        self.settings = settings
        self.desired = settings.workers
        self.generation += 1

    def scale(self, workers: int) -> int:
        self.desired = max(1, min(MAX_WORKERS, workers))
        return self.desired

    def _pick(self, candidates: list[Child]) -> Child:
        views = {c.slot: self.board.read(c.slot) for c in candidates}
        slot = watchdog.pick_to_retire(views)
        return next(c for c in candidates if c.slot == slot)

    def worker_pids(self) -> set[int]:
        return set(self.children.by_pid)


def _worker_id(daemon_id: str, slot: int, pid: int) -> str:
    return f"{daemon_id[:8]}.{slot + 1}.{pid}"
