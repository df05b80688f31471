"""Process titles, so `ps` shows what each gigqd process is doing."""

from __future__ import annotations

import os

from setproctitle import setproctitle


def supervisor(db_path: str, workers: int) -> None:
    setproctitle(f"gigqd: supervisor [{os.path.basename(db_path)}] {workers} workers")


def worker_idle(slot: int) -> None:
    setproctitle(f"gigqd: worker {slot} idle")


def worker_running(slot: int, job_name: str, job_id: str, seconds: float) -> None:
    setproctitle(f"gigqd: worker {slot} running {job_name} (job {job_id[:4]}…, {seconds:.0f}s)")


def worker_stopping(slot: int) -> None:
    setproctitle(f"gigqd: worker {slot} stopping")
