"""Claiming, finishing and recovering attempts in a SQLite store (the daemon's side)."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any, Iterable, Optional, Sequence

from ...timestamps import iso
from .. import rows, rules
from ..base import COMPLETED, Claim, ClaimedJob, OrphanJudge, Outcome, RunningClaim
from . import executions, finish, graph

_READY = "status = 'pending' AND blockers = 0 AND wait_until IS NULL"
# INDEXED BY pins the walk to the state index, whose equality prefix (status, queue,
# blockers, wait_until) leaves the ready jobs of a queue in claim order: a plan that
# sorted them instead would make claim cost grow with the queue.
_BY_QUEUE = "jobs INDEXED BY idx_jobs_state"
_WAITING = "jobs INDEXED BY idx_jobs_waiting"
_FENCE = finish.FENCE

_CLAIM = """
    UPDATE jobs SET status = 'running', attempts = attempts + 1, worker_id = ?, started_at = ?, updated_at = ?
    WHERE rowid IN ({selection})
    RETURNING {returning}"""


_RUNNING = """
    SELECT j.id, j.attempts, j.worker_id, j.started_at, j.timeout,
        w.host, w.pid, w.pid_started, d.id, d.heartbeat_at, d.machine, d.lease_until < ?
    FROM jobs AS j LEFT JOIN workers AS w ON w.id = j.worker_id LEFT JOIN daemons AS d ON d.id = w.daemon_id
    WHERE j.status = 'running'"""


class ClaimOperations:
    def claim(self, worker_id: str, queues: Optional[Sequence[str]], limit: int = 1) -> list[ClaimedJob]:
        with self._write() as conn:
            return _claim(conn, worker_id, queues, limit, time.time())

    def finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        if not outcomes:
            return []
        if len(outcomes) == 1 and outcomes[0].status == COMPLETED:
            # A worker records each job as it ends: one fenced UPDATE is the whole
            # transaction, unless other jobs wait for this one (then it changes nothing).
            args = finish.complete_alone_args(outcomes[0], iso(time.time()))
            if self._write_one(finish.COMPLETE_ALONE, args):
                return [True]
        with self._write() as conn:
            return finish.finish(conn, outcomes, time.time())

    def finish_and_claim(
        self, outcomes: Sequence[Outcome], worker_id: str, queues: Optional[Sequence[str]], limit: int,
        share: int = 1,
    ) -> tuple[list[bool], list[ClaimedJob]]:
        with self._write() as conn:
            now = time.time()
            applied = finish.finish(conn, outcomes, now) if outcomes else []
            return applied, _claim(conn, worker_id, queues, limit, now, share)

    def release(self, claims: Iterable[Claim], reason: Optional[str] = None) -> int:
        released = 0
        with self._write() as conn:
            now_iso = iso(time.time())
            for claim in claims:
                row = conn.execute(
                    "UPDATE jobs SET status = 'pending', attempts = attempts - 1, worker_id = NULL, "
                    f"updated_at = ? WHERE {_FENCE} RETURNING rowid, started_at, cancel_requested",
                    (now_iso, claim.job_id, claim.attempt, claim.worker_id),
                ).fetchone()
                if row is None:
                    continue
                released += 1
                if reason is not None:  # stopped from outside: keep the run on record, spend nothing
                    executions.record(conn, [(claim.job_id, row[0], claim.worker_id, "interrupted", row[1],
                                                     now_iso, reason, claim.attempt, None)])
                if row[2]:  # a cancel asked for while it was held: honour it now, not after it runs again
                    why = "before it started" if reason is None else f"and {reason}"
                    graph.cancel_pending(conn, claim.job_id, f"cancelled by request {why}", now_iso)
        return released

    def running_claims(self) -> list[RunningClaim]:
        return [rows.running_claim(row) for row in self._read(_RUNNING, (time.time(),))]

    def requeue_orphans(self, judge: OrphanJudge) -> list[tuple[Claim, str]]:
        return rules.requeue_orphans(self, judge)

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
                f"worker_id = NULL, cancel_requested = 0 WHERE {_FENCE} RETURNING name, rowid",
                (reason, now_iso, now_iso, *fence),
            ).fetchone()
            if row is None:
                return False
            executions.record(conn, [(claim.job_id, row[1], claim.worker_id, "cancelled", iso(started),
                                             now_iso, reason, claim.attempt, None)])
            graph.cancel_downstream_of(conn, claim.job_id, row[0], "cancelled", now_iso)
            return True


def _claim(
    conn: sqlite3.Connection, worker_id: str, queues: Optional[Sequence[str]], limit: int, now: float,
    share: int = 1,
) -> list[ClaimedJob]:
    conn.execute(
        f"UPDATE {_WAITING} SET wait_until = NULL"
        " WHERE status = 'pending' AND wait_until IS NOT NULL AND wait_until <= ?",
        (now,),
    )
    if share > 1 and limit > 1:
        limit = _fair_share(conn, queues, limit, share)
    selection, args = _selection(conn, queues, limit)
    now_iso = iso(now)
    sql = _CLAIM.format(selection=selection, returning=rows._CLAIM_COLUMNS)
    found = conn.execute(sql, (worker_id, now_iso, now_iso, *args)).fetchall()
    submitted = {row[0]: row[13] for row in found}  # rowid: submission order
    jobs = [rows.claimed_job(row, worker_id) for row in found]
    jobs.sort(key=lambda job: (-job.priority, submitted[job.job_id]))  # RETURNING has no order
    return jobs


def _fair_share(conn: sqlite3.Connection, queues: Optional[Sequence[str]], limit: int, share: int) -> int:
    """`limit`, or 1/share of the ready jobs if fewer than limit x share are ready.
    Counting stops at limit x share rows, so the cost stays flat in a deep queue."""
    selection, args = _selection(conn, queues, limit * share)
    ready = conn.execute(f"SELECT count(*) FROM ({selection})", args).fetchone()[0]
    return max(1, min(limit, -(-ready // share)))


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
