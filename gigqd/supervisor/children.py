"""The table of worker children: fork them, reap them, and say why each one ended."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional

import psutil

from ..exits import WorkerExit
from .watchdog import Kill


@dataclass
class Child:
    slot: int
    pid: int
    worker_id: str
    wake_fd: int  # write end of the worker's pipe
    generation: int
    retiring: bool = False  # told to stop after its current job
    kill: Optional[Kill] = None  # why we are stopping it by force
    term_sent_at: float = 0.0
    kill_sent: bool = False
    tree: list[psutil.Process] = field(default_factory=list)


class Children:
    def __init__(self) -> None:
        self.by_pid: dict[int, Child] = {}

    def __iter__(self) -> Iterator[Child]:
        return iter(list(self.by_pid.values()))

    def __len__(self) -> int:
        return len(self.by_pid)

    def fork(self, slot: int, worker_id: str, generation: int, child_main: Callable[[int], None]) -> Child:
        """Fork a worker; `child_main(read_fd)` runs in the child and never returns."""
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            os.close(write_fd)
            child_main(read_fd)
            os._exit(WorkerExit.CRASHED)
        os.close(read_fd)
        os.set_blocking(write_fd, False)
        child = Child(slot, pid, worker_id, write_fd, generation)
        self.by_pid[pid] = child
        return child

    def reap(self) -> list[tuple[Optional[Child], int, int]]:
        """(child or None for an adopted orphan, pid, wait status) of every ended child."""
        ended = []
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return ended
            if pid == 0:
                return ended
            child = self.by_pid.pop(pid, None)
            if child is not None:
                _close(child.wake_fd)
            ended.append((child, pid, status))

    def tell(self, child: Child, message: bytes) -> None:
        try:
            os.write(child.wake_fd, message)
        except (BlockingIOError, BrokenPipeError, OSError):
            pass  # a full pipe already holds a wake-up; a broken one means the child is gone

    def slots_in_use(self) -> set[int]:
        return {child.slot for child in self.by_pid.values()}

    def fds(self) -> list[int]:
        return [child.wake_fd for child in self.by_pid.values()]


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
