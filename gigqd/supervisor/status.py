"""What `gigqctl status` shows: the daemon, its queues, its workers, and its pace."""

from __future__ import annotations

import collections
import time
from typing import Any

import psutil

from gigq_client.store import Store

from ..board import RUNNING, STATE_NAMES, SlotView
from .children import Child

WINDOW = 60.0


class Throughput:
    """Jobs finished per minute, from the workers' counters on the board."""

    def __init__(self) -> None:
        self.retired = 0  # jobs done by workers that have since ended
        self.samples: collections.deque[tuple[float, int]] = collections.deque()

    def sample(self, live_total: int, now: float) -> None:
        self.samples.append((now, self.retired + live_total))
        while self.samples and now - self.samples[0][0] > WINDOW:
            self.samples.popleft()

    def total(self) -> int:
        return self.samples[-1][1] if self.samples else self.retired

    def per_minute(self) -> float:
        if len(self.samples) < 2:
            return 0.0
        (first, done_then), (last, done_now) = self.samples[0], self.samples[-1]
        span = max(last - first, 1.0)
        return (done_now - done_then) * WINDOW / span


def report(daemon: dict[str, Any], store: Store, workers: list[dict[str, Any]]) -> dict[str, Any]:
    """The status document: the daemon's own facts, the queues from the store, each worker."""
    return {
        "daemon": {**daemon, "paused": store.paused_queues()},
        "queues": store.stats_by_queue(),
        "totals": store.stats(),
        "workers": workers,
    }


def worker(child: Child, view: SlotView) -> dict[str, Any]:
    job = view.running_job
    return {
        "slot": child.slot + 1, "pid": child.pid, "worker_id": child.worker_id,
        "state": "retiring" if child.retiring and view.state != RUNNING else STATE_NAMES.get(view.state, "?"),
        "job_id": job.job_id if job else None, "job_name": view.job_name if job else None,
        "runtime": round(time.monotonic() - view.started, 1) if job and view.started else None,
        "rss_mb": _rss(child.pid), "jobs_done": view.jobs_done,
    }


def _rss(pid: int) -> float | None:
    try:
        return round(psutil.Process(pid).memory_info().rss / 2**20, 1)
    except psutil.Error:
        return None
