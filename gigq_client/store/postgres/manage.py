"""Reading and managing jobs in a PostgreSQL store (the client's side)."""

from __future__ import annotations

import time
from typing import Any, Optional

from ...jobs import JobStatus
from .. import history, rows
from ..rules import REQUEUEABLE
from . import graph
from .values import iso, moment, seconds

_COLUMNS = ", ".join(rows.JOB_COLUMNS)
_SELECT_JOB = f"SELECT {_COLUMNS}"
_TIMES = ("created_at", "updated_at", "started_at", "completed_at", "retry_after", "run_at")
_SECONDS = ("timeout", "retry_delay")
_CLEARABLE = "status IN ('completed', 'cancelled')"
# One statement, so a job requeued meanwhile is either cleared whole or kept whole.
_CLEAR = f"""
    WITH gone AS (DELETE FROM jobs WHERE {_CLEARABLE} {{before}} RETURNING id, seq),
    executions AS (DELETE FROM job_executions WHERE job_seq = ANY(ARRAY(SELECT seq FROM gone))),
    dependencies AS (DELETE FROM job_dependencies WHERE job_id = ANY(ARRAY(SELECT id FROM gone)))
    SELECT count(*) FROM gone"""
_EXECUTIONS = (f"SELECT {', '.join(history.COLUMNS)} FROM job_executions WHERE job_seq = %s ORDER BY seq")


class ManageOperations:
    def get_job(self, job_id: str) -> Optional[dict[str, Any]]:
        found = self._read(f"{_SELECT_JOB}, seq, completed_by, completed_pid FROM jobs WHERE id = %s", (job_id,))
        if not found:
            return None
        *columns, seq, completed_by, completed_pid = found[0]
        job = _job_dict(columns)
        job["executions"] = [_execution_dict(row) for row in self._read(_EXECUTIONS, (seq,))]
        if job["status"] == "running":
            job["executions"].append(history.in_progress(job))
        elif job["status"] == "completed" and completed_by is not None:
            job["executions"].append(history.completed(job, completed_by, completed_pid))
        return job

    def get_result(self, job_id: str) -> tuple[bool, Optional[str], Any]:
        found = self._read("SELECT status, result FROM jobs WHERE id = %s", (job_id,))
        if not found:
            return False, None, None
        status, result = found[0]
        return True, status, rows.loads(result)

    def list_jobs(self, status: Optional[str], limit: int, queue: Optional[str]) -> list[dict[str, Any]]:
        """Newest first: one backward walk of jobs_status for the status asked for, or for
        each status when none is, merged (whatever the table's size, a few short walks)."""
        statuses = [status] if status is not None else [known.value for known in JobStatus]
        limit = int(limit)
        in_queue, filters = (" AND queue = %s", [queue]) if queue is not None else ("", [])
        branch = f"(SELECT seq, {_COLUMNS} FROM jobs WHERE status = %s{in_queue} ORDER BY seq DESC LIMIT %s)"
        union = " UNION ALL ".join([branch] * len(statuses))
        args = [arg for name in statuses for arg in (name, *filters, limit)]
        found = self._read(f"SELECT {_COLUMNS} FROM ({union}) AS newest ORDER BY seq DESC LIMIT %s", (*args, limit))
        return [_job_dict(row) for row in found]

    def stats(self, queue: Optional[str] = None) -> dict[str, int]:
        clause, args = (" WHERE queue = %s", (queue,)) if queue is not None else ("", ())
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
        return self._transact(lambda conn: graph.cancel_pending(conn, job_id, "cancelled by request", time.time()))

    def request_cancel(self, job_id: str) -> bool:
        query = "UPDATE jobs SET cancel_requested = true WHERE id = %s AND status = 'running'"
        return bool(self._execute(query, (job_id,)))

    def requeue_job(self, job_id: str) -> bool:
        return self._transact(lambda conn: _requeue(conn, job_id, time.time()))

    def clear_completed(self, before: Optional[float]) -> int:
        sql, args = (_CLEAR.format(before="AND completed_at < %s"), (moment(before),)) if before is not None \
            else (_CLEAR.format(before=""), ())
        return self._transact(lambda conn: conn.execute(sql, args).fetchone()[0])


def _requeue(conn: Any, job_id: str, now: float) -> bool:
    row = conn.execute("SELECT status FROM jobs WHERE id = %s FOR UPDATE", (job_id,)).fetchone()
    if row is None or row[0] not in REQUEUEABLE:
        return False
    graph.lock_parents(conn, [job_id])
    if graph.has_dead_parent(conn, job_id):
        return False
    conn.execute(
        "UPDATE jobs SET status = 'pending', attempts = 0, error = NULL, result = NULL, started_at = NULL, "
        "completed_at = NULL, worker_id = NULL, wait_until = NULL, retry_after = NULL, cancel_requested = false, "
        "cancelled_by = NULL, updated_at = %s WHERE id = %s",
        (moment(now), job_id),
    )
    graph.recount_blockers(conn, [job_id])
    graph.revive_downstream(conn, job_id, now)
    return True


def _job_dict(row: tuple) -> dict[str, Any]:
    job = rows.job_dict(row)
    for name in _TIMES:
        job[name] = iso(job[name])
    for name in _SECONDS:
        job[name] = seconds(job[name])
    return job


def _execution_dict(row: tuple) -> dict[str, Any]:
    execution = rows.execution_dict(row)
    execution["started_at"], execution["completed_at"] = iso(execution["started_at"]), iso(execution["completed_at"])
    return execution
