"""OrphanJudge: whether a running claim's owner is provably gone (for Store.requeue_orphans)."""

from __future__ import annotations

from typing import Callable, Iterable, Optional

from .store import RunningClaim


class OrphanJudge:
    """Decides whether a running claim's owner is provably gone (for Store.requeue_orphans)."""

    def __init__(self, host: str, alive: Callable[[int, Optional[float]], bool], now: float, lease: float,
                 own_workers: Iterable[str] = ()):
        self.host, self.alive, self.now, self.lease = host, alive, now, lease
        self.own_workers = set(own_workers)
        self.waiting_on_exit = 0  # claims of a dead daemon whose worker still runs: look again soon

    def __call__(self, running: RunningClaim) -> Optional[str]:
        worker = running.claim.worker_id
        if worker in self.own_workers:
            return None  # our live workers' deaths are seen through waitpid
        if running.host is None:
            limit = running.started_at + running.timeout + self.lease
            if self.now > limit:
                return f"owner {worker} is unknown and the job ran longer than its timeout plus the lease"
            return None
        if running.host == self.host:
            if not self.alive(running.pid, running.pid_started):
                return f"worker {worker} (pid {running.pid}) is no longer running"
            self.waiting_on_exit += 1  # another daemon's worker: alive, or still exiting after its supervisor died
            return None
        if running.daemon_heartbeat is None or self.now - running.daemon_heartbeat > self.lease:
            return f"daemon of worker {worker} on {running.host} sent no heartbeat for more than {self.lease:g} s"
        return None
