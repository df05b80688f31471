"""Execution records, one per attempt, as every backend returns them."""

from __future__ import annotations

import itertools
import os
import time
from typing import Any, Optional

COLUMNS = ("id", "job_id", "worker_id", "status", "started_at", "completed_at", "result", "error", "attempt", "pid")

_SEQUENCE = itertools.count()


def new_id() -> str:
    """Time-ordered, so each insert lands at the right edge of the primary key's B-tree."""
    return f"{time.time_ns():016x}-{os.getpid() & 0xffff:04x}{next(_SEQUENCE) & 0xffff:04x}"


def in_progress(job: dict[str, Any]) -> dict[str, Any]:
    """The attempt a running job is on: recorded only when it ends."""
    return {"id": None, "job_id": job["id"], "worker_id": job["worker_id"], "status": "running",
            "started_at": job["started_at"], "completed_at": None, "result": None, "error": None,
            "attempt": job["attempts"], "pid": None}


def completed(job: dict[str, Any], worker_id: str, pid: Optional[int]) -> dict[str, Any]:
    """The attempt that completed the job, recorded on the job row when it completed."""
    return {"id": None, "job_id": job["id"], "worker_id": worker_id, "status": "completed",
            "started_at": job["started_at"], "completed_at": job["completed_at"], "result": job["result"],
            "error": None, "attempt": job["attempts"], "pid": pid}
