"""Reading and managing jobs in a SQLite store (the client's side)."""

from __future__ import annotations

import time
from typing import Any, Optional

from ...jobs import JobStatus
from ...timestamps import iso
from .. import history, rows
from ..rules import REQUEUEABLE
from . import executions, graph

_SELECT_JOB = f"SELECT {', '.join(rows.JOB_COLUMNS)}"
_CLEARABLE = "status IN ('completed', 'cancelled')"
_RECENT_ROWS = 2_000
# The newest jobs first, by the table's own order (a subquery with LIMIT is not merged
# into the outer query, so its WHERE cannot send the scan to an index instead).
_RECENT_OF = (f"{_SELECT_JOB} FROM (SELECT rowid AS newest, * FROM jobs ORDER BY rowid DESC LIMIT ?)"
              " WHERE {where} ORDER BY newest DESC LIMIT ?")


class ManageOperations:
    def get_job(self, job_id: str) -> Optional[dict[str, Any]]:
        found = self._read(f"{_SELECT_JOB}, rowid, completed_by, completed_pid FROM jobs WHERE id = ?", (job_id,))
        if not found:
            return None
        *columns, rowid, completed_by, completed_pid = found[0]
        job = rows.job_dict(columns)
        job["executions"] = [rows.execution_dict(row) for row in self._read(executions.OF_JOB, (rowid,))]
        if job["status"] == "running":
            job["executions"].append(history.in_progress(job))
        elif job["status"] == "completed" and completed_by is not None:
            job["executions"].append(history.completed(job, completed_by, completed_pid))
        return job

    def get_result(self, job_id: str) -> tuple[bool, Optional[str], Any]:
        found = self._read("SELECT status, result FROM jobs WHERE id = ?", (job_id,))
        if not found:
            return False, None, None
        status, result = found[0]
        return True, status, rows.loads(result)

    def list_jobs(self, status: Optional[str], limit: int, queue: Optional[str]) -> list[dict[str, Any]]:
        """The newest jobs, of one status and queue if given. The state index does not
        keep a status's jobs newest first, so listing by status through it sorts every
        job of that status (half a second for the completed ones of 300,000 jobs). The
        newest _RECENT_ROWS jobs are looked at first: enough for a common status; a rare
        one, or one missing among them, is then found through the index, which has few
        of it to sort. Running jobs are always few (what the workers hold): the index."""
        where, args = [], []
        if status is not None:
            where.append("status = ?")
            args.append(status)
        if queue is not None:
            where.append("queue = ?")
            args.append(queue)
        limit = int(limit)
        if status is not None and status != "running" and limit < _RECENT_ROWS:  # running jobs are few
            found = self._read(_RECENT_OF.format(where=" AND ".join(where)), (_RECENT_ROWS, *args, limit))
            if len(found) == limit:
                return [rows.job_dict(row) for row in found]
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        found = self._read(f"{_SELECT_JOB} FROM jobs{clause} ORDER BY rowid DESC LIMIT ?", (*args, limit))
        return [rows.job_dict(row) for row in found]

    def stats(self, queue: Optional[str] = None) -> dict[str, int]:
        clause, args = (" WHERE queue = ?", (queue,)) if queue is not None else ("", ())
        counts = {status.value: 0 for status in JobStatus}
        for status, count in self._read(f"SELECT status, count(*) FROM jobs{clause} GROUP BY status", args):
            counts[status] = count
        counts["total"] = sum(counts.values())
        return counts

    def stats_by_queue(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = {}
        for queue, status, count in self._read("SELECT queue, status, count(*) FROM jobs GROUP BY queue, status"):
            counts = result.setdefault(queue, {s.value: 0 for s in JobStatus})
            counts[status] = count
        for counts in result.values():
            counts["total"] = sum(counts.values())
        return result

    def cancel(self, job_id: str) -> bool:
        with self._write() as conn:
            return graph.cancel_pending(conn, job_id, "cancelled by request", iso(time.time()))

    def request_cancel(self, job_id: str) -> bool:
        with self._write() as conn:
            return bool(
                conn.execute(
                    "UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND status = 'running'", (job_id,)
                ).rowcount
            )

    def requeue_job(self, job_id: str) -> bool:
        with self._write() as conn:
            row = conn.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None or row[0] not in REQUEUEABLE or graph.has_dead_parent(conn, job_id):
                return False
            now_iso = iso(time.time())
            conn.execute(
                "UPDATE jobs SET status = 'pending', attempts = 0, error = NULL, result = NULL, started_at = NULL, "
                "completed_at = NULL, worker_id = NULL, wait_until = NULL, retry_after = NULL, cancel_requested = 0, "
                "cancelled_by = NULL, updated_at = ? WHERE id = ?",
                (now_iso, job_id),
            )
            graph.recount_blockers(conn, job_id)
            graph.revive_downstream(conn, job_id, now_iso)
            return True

    def clear_completed(self, before: Optional[float]) -> int:
        condition, args = (_CLEARABLE, ())
        if before is not None:
            condition, args = (f"{_CLEARABLE} AND completed_at < ?", (iso(before),))
        with self._write() as conn:
            cleared = f"FROM jobs WHERE {condition}"
            conn.execute(f"DELETE FROM job_executions WHERE job_rowid IN (SELECT rowid {cleared})", args)
            conn.execute(f"DELETE FROM job_dependencies WHERE job_id IN (SELECT id {cleared})", args)
            return conn.execute(f"DELETE {cleared}", args).rowcount
