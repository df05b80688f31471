"""Claiming, finishing and recovering attempts in a SQLite store (the daemon's side)."""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from typing import Any, Iterable, Optional, Sequence

from ..retry import backoff_delay
from ..timestamps import iso
from . import rows, sqlite_graph
from .base import COMPLETED, Claim, ClaimedJob, OrphanJudge, Outcome, RunningClaim

_READY = "status = 'pending' AND blockers = 0 AND wait_until IS NULL"
# INDEXED BY pins the walk to the ready index: the planner would otherwise prefer the
# status index and sort every pending row, and claim cost would grow with the queue.
_BY_QUEUE = "jobs INDEXED BY idx_jobs_ready_by_queue"
_WAITING = "jobs INDEXED BY idx_jobs_waiting"
_FENCE = "id = ? AND status = 'running' AND attempts = ? AND worker_id = ?"
_EXECUTION_FENCE = "job_id = ? AND attempt = ? AND worker_id = ? AND status = 'running'"

_CLAIM = """
    UPDATE jobs SET status = 'running', attempts = attempts + 1, worker_id = ?, started_at = ?, updated_at = ?
    WHERE rowid IN ({selection})
    RETURNING {returning}"""

_START_EXECUTION = """
    INSERT INTO job_executions (id, job_id, worker_id, status, started_at, attempt)
    VALUES (?, ?, ?, 'running', ?, ?)"""

_COMPLETE = f"""
    UPDATE jobs SET status = 'completed', result = ?, error = NULL, completed_at = ?, updated_at = ?,
        worker_id = NULL, cancel_requested = 0
    WHERE {_FENCE}"""

_END_EXECUTION = f"""
    UPDATE job_executions SET status = ?, started_at = ?, completed_at = ?, error = ?, pid = ?
    WHERE {_EXECUTION_FENCE}"""

_RUNNING = """
    SELECT j.id, j.attempts, j.worker_id, j.started_at, j.timeout,
        w.host, w.pid, w.pid_started, d.id, d.heartbeat_at
    FROM jobs AS j LEFT JOIN workers AS w ON w.id = j.worker_id LEFT JOIN daemons AS d ON d.id = w.daemon_id
    WHERE j.status = 'running'"""


class ClaimOperations:
    def claim(self, worker_id: str, queues: Optional[Sequence[str]], limit: int = 1) -> list[ClaimedJob]:
        with self._write() as conn:
            return _claim(conn, worker_id, queues, limit, time.time())

    def finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        if not outcomes:
            return []
        with self._write() as conn:
            return _finish(conn, outcomes, time.time())

    def finish_and_claim(
        self, outcomes: Sequence[Outcome], worker_id: str, queues: Optional[Sequence[str]], limit: int
    ) -> tuple[list[bool], list[ClaimedJob]]:
        with self._write() as conn:
            now = time.time()
            applied = _finish(conn, outcomes, now) if outcomes else []
            return applied, _claim(conn, worker_id, queues, limit, now)

    def release(self, claims: Iterable[Claim], reason: Optional[str] = None) -> int:
        released = 0
        with self._write() as conn:
            now_iso = iso(time.time())
            for claim in claims:
                fence = (claim.job_id, claim.attempt, claim.worker_id)
                cursor = conn.execute(
                    "UPDATE jobs SET status = 'pending', attempts = attempts - 1, worker_id = NULL, "
                    f"updated_at = ? WHERE {_FENCE}",
                    (now_iso, *fence),
                )
                if not cursor.rowcount:
                    continue
                released += 1
                if reason is None:  # it never started: no trace of the attempt
                    conn.execute(f"DELETE FROM job_executions WHERE {_EXECUTION_FENCE}", fence)
                else:  # it was stopped from outside: keep the run, say why, spend nothing
                    conn.execute(
                        f"UPDATE job_executions SET status = 'interrupted', completed_at = ?, error = ? WHERE {_EXECUTION_FENCE}",
                        (now_iso, reason, *fence),
                    )
        return released

    def running_claims(self) -> list[RunningClaim]:
        return [rows.running_claim(row) for row in self._read(_RUNNING)]

    def requeue_orphans(self, judge: OrphanJudge) -> list[tuple[Claim, str]]:
        now = time.time()
        dead = [(running, reason) for running in self.running_claims() if (reason := judge(running))]
        outcomes = [
            Outcome(running.claim, "failed", started=running.started_at, finished=now, error=reason)
            for running, reason in dead
        ]
        applied = self.finish(outcomes)
        return [(running.claim, reason) for (running, reason), ok in zip(dead, applied) if ok]

    def next_due(self) -> Optional[float]:
        rows = self._read(f"SELECT min(wait_until) FROM {_WAITING} WHERE status = 'pending' AND wait_until IS NOT NULL")
        return rows[0][0]

    def parent_results(self, job_ids: Sequence[str]) -> dict[str, Any]:
        marks = ",".join("?" * len(job_ids))
        rows = self._read(f"SELECT id, result FROM jobs WHERE id IN ({marks})", list(job_ids)) if job_ids else []
        found = {job_id: (json.loads(result) if result is not None else None) for job_id, result in rows}
        return {job_id: found.get(job_id) for job_id in job_ids}

    def cancel_requests(self) -> list[Claim]:
        rows = self._read("SELECT id, attempts, worker_id FROM jobs WHERE status = 'running' AND cancel_requested = 1")
        return [Claim(*row) for row in rows]

    def cancel_running(self, claim: Claim, reason: str, started: float, finished: float) -> bool:
        with self._write() as conn:
            now_iso = iso(finished)
            fence = (claim.job_id, claim.attempt, claim.worker_id)
            row = conn.execute(
                "UPDATE jobs SET status = 'cancelled', error = ?, completed_at = ?, updated_at = ?, "
                f"worker_id = NULL, cancel_requested = 0 WHERE {_FENCE} RETURNING name",
                (reason, now_iso, now_iso, *fence),
            ).fetchone()
            if row is None:
                return False
            conn.execute(_END_EXECUTION, ("cancelled", iso(started), now_iso, reason, None, *fence))
            sqlite_graph.cancel_downstream_of(conn, claim.job_id, row[0], "cancelled", now_iso)
            return True


def _claim(
    conn: sqlite3.Connection, worker_id: str, queues: Optional[Sequence[str]], limit: int, now: float
) -> list[ClaimedJob]:
    conn.execute(
        f"UPDATE {_WAITING} SET wait_until = NULL WHERE status = 'pending' AND wait_until IS NOT NULL AND wait_until <= ?",
        (now,),
    )
    selection, args = _selection(conn, queues, limit)
    now_iso = iso(now)
    sql = _CLAIM.format(selection=selection, returning=rows._CLAIM_COLUMNS)
    found = conn.execute(sql, (worker_id, now_iso, now_iso, *args)).fetchall()
    submitted = {row[0]: row[13] for row in found}  # rowid: submission order
    jobs = [rows.claimed_job(row, worker_id, now) for row in found]
    jobs.sort(key=lambda job: (-job.priority, submitted[job.job_id]))  # RETURNING has no order
    conn.executemany(
        _START_EXECUTION,
        [(f"{j.job_id}:{j.claim.attempt}:{secrets.token_hex(3)}", j.job_id, worker_id, now_iso, j.claim.attempt)
         for j in jobs],
    )
    return jobs


def _selection(conn: sqlite3.Connection, queues: Optional[Sequence[str]], limit: int) -> tuple[str, list]:
    """SQL choosing the rowids to claim: one walk of the ready index per queue, each
    stopping after `limit` rows, merged by priority and submission order."""
    paused = {row[0] for row in conn.execute("SELECT queue FROM paused_queues")}
    if "*" in paused:  # every queue is paused
        return "SELECT NULL WHERE 0", []
    names = queues if queues is not None else [row[0] for row in conn.execute("SELECT name FROM queues")]
    wanted = [name for name in names if name not in paused]
    order = "ORDER BY priority DESC, rowid LIMIT ?"
    if not wanted:
        return "SELECT NULL WHERE 0", []
    if len(wanted) == 1:
        return f"SELECT rowid FROM {_BY_QUEUE} WHERE {_READY} AND queue = ? {order}", [wanted[0], limit]
    branch = f"SELECT * FROM (SELECT rowid AS r, priority AS p FROM {_BY_QUEUE} WHERE {_READY} AND queue = ? {order})"
    union = " UNION ALL ".join([branch] * len(wanted))
    args = [value for queue in wanted for value in (queue, limit)]
    return f"SELECT r FROM ({union}) ORDER BY p DESC, r LIMIT ?", [*args, limit]


def _finish(conn: sqlite3.Connection, outcomes: Sequence[Outcome], now: float) -> list[bool]:
    now_iso = iso(now)
    return [
        _complete(conn, outcome, now_iso) if outcome.status == COMPLETED else _fail(conn, outcome, now, now_iso)
        for outcome in outcomes
    ]


def _complete(conn: sqlite3.Connection, outcome: Outcome, now_iso: str) -> bool:
    claim = outcome.claim
    fence = (claim.job_id, claim.attempt, claim.worker_id)
    finished = iso(outcome.finished)
    if not conn.execute(_COMPLETE, (outcome.result, finished, now_iso, *fence)).rowcount:
        return False
    conn.execute(_END_EXECUTION, (COMPLETED, iso(outcome.started), finished, None, outcome.pid, *fence))
    sqlite_graph.unblock_dependents(conn, claim.job_id)
    return True


def _fail(conn: sqlite3.Connection, outcome: Outcome, now: float, now_iso: str) -> bool:
    claim = outcome.claim
    fence = (claim.job_id, claim.attempt, claim.worker_id)
    row = conn.execute(f"SELECT max_attempts, retry_delay, name FROM jobs WHERE {_FENCE}", fence).fetchone()
    if row is None:
        return False
    max_attempts, retry_delay = int(rows.number(row[0], 1, 1)[0]), rows.number(row[1], 0)[0]
    name = row[2]
    finished = iso(outcome.finished)
    conn.execute(_END_EXECUTION, (outcome.status, iso(outcome.started), finished, outcome.error, outcome.pid, *fence))
    if outcome.retryable and claim.attempt < max_attempts:
        delay = backoff_delay(claim.attempt, retry_delay)
        wait_until = now + delay if delay > 0 else None
        conn.execute(
            "UPDATE jobs SET status = 'pending', error = ?, worker_id = NULL, wait_until = ?, retry_after = ?, "
            "updated_at = ? WHERE id = ?",
            (outcome.error, wait_until, iso(wait_until) if wait_until else None, now_iso, claim.job_id),
        )
        return True
    conn.execute(
        "UPDATE jobs SET status = ?, error = ?, worker_id = NULL, completed_at = ?, updated_at = ?, "
        "cancel_requested = 0 WHERE id = ?",
        (outcome.status, outcome.error, finished, now_iso, claim.job_id),
    )
    sqlite_graph.cancel_downstream_of(conn, claim.job_id, name, outcome.status, now_iso)
    return True
