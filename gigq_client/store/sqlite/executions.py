"""Execution rows: one per attempt that did not complete, written when it ends (SQLite).

The attempt in progress and the completed attempt are read from the job row itself."""

from __future__ import annotations

import itertools
import os
import sqlite3
import time
from typing import Any, Iterable, Optional

COLUMNS = ("id", "job_id", "worker_id", "status", "started_at", "completed_at", "result", "error", "attempt", "pid")

_INSERT = """
    INSERT INTO job_executions (id, job_id, job_rowid, worker_id, status, started_at, completed_at, error, attempt, pid)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""

_SEQUENCE = itertools.count()


def new_id() -> str:
    """Time-ordered, so each insert lands at the right edge of the primary key's B-tree."""
    return f"{time.time_ns():016x}-{os.getpid() & 0xffff:04x}{next(_SEQUENCE) & 0xffff:04x}"


Row = tuple[str, int, str, str, Optional[str], Optional[str], Optional[str], int, Optional[int]]
"""(job_id, job_rowid, worker_id, status, started_at, completed_at, error, attempt, pid)"""


def record(conn: sqlite3.Connection, rows: Iterable[Row]) -> None:
    conn.executemany(_INSERT, [(new_id(), *row) for row in rows])


OF_JOB = f"SELECT {', '.join(COLUMNS)} FROM job_executions WHERE job_rowid = ? ORDER BY rowid"


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
