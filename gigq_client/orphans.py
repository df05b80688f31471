"""OrphanJudge: whether a running claim's owner is provably gone (for Store.requeue_orphans)."""

from __future__ import annotations

from typing import Callable, Iterable, Optional

from .store import RunningClaim


class OrphanJudge:
    """Decides whether a running claim's owner is provably gone. On this machine a
    worker is gone when its process is (pid and start time); a worker elsewhere is
    gone when its daemon's lease has run out by the store's clock, never because a
    job is merely long, and never by comparing this machine's clock with another's."""

    def __init__(self, machine: str, alive: Callable[[int, Optional[float]], bool], now: float, lease: float,
                 own_workers: Iterable[str] = ()):
        self.machine, self.alive, self.now, self.lease = machine, alive, now, lease
        self.own_workers = set(own_workers)
        self.waiting_on_exit = 0  # claims of a dead daemon whose worker still runs: look again soon

    def __call__(self, running: RunningClaim) -> Optional[str]:
        worker = running.claim.worker_id
        if worker in self.own_workers:
            return None  # our live workers' deaths are seen through waitpid
        if running.host is None:
            return self._unknown_owner(running)
        if self.machine and running.machine == self.machine:
            if not self.alive(running.pid, running.pid_started):
                return f"worker {worker} (pid {running.pid}) is no longer running"
            self.waiting_on_exit += 1  # another daemon's worker: alive, or still exiting after its supervisor died
            return None
        if running.lease_expired is None:
            return f"worker {worker} on {running.host} belongs to a daemon that is no longer registered"
        if running.lease_expired:
            return f"the lease of daemon {running.daemon_id} on {running.host} ran out without being renewed"
        return None

    def _unknown_owner(self, running: RunningClaim) -> Optional[str]:
        """A worker that never registered (GigQ's own): gone once the job ran past its timeout and the lease."""
        if self.now > running.started_at + running.timeout + self.lease:
            return f"owner {running.claim.worker_id} is unknown and the job ran longer than its timeout plus the lease"
        return None
