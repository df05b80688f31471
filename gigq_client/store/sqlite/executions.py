"""Execution rows: one per attempt that did not complete, written when it ends (SQLite).

The attempt in progress and the completed attempt are read from the job row itself."""

from __future__ import annotations

import sqlite3
from typing import Iterable, Optional

from ..history import COLUMNS, new_id

_INSERT = """
    INSERT INTO job_executions (id, job_id, job_rowid, worker_id, status, started_at, completed_at, error, attempt, pid)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""

Row = tuple[str, int, str, str, Optional[str], Optional[str], Optional[str], int, Optional[int]]
"""(job_id, job_rowid, worker_id, status, started_at, completed_at, error, attempt, pid)"""


def record(conn: sqlite3.Connection, rows: Iterable[Row]) -> None:
    conn.executemany(_INSERT, [(new_id(), *row) for row in rows])


OF_JOB = f"SELECT {', '.join(COLUMNS)} FROM job_executions WHERE job_rowid = ? ORDER BY rowid"

