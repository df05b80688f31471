"""Claiming, finishing and recovering attempts in a PostgreSQL store (the daemon's side).

A claim is one statement: the ready rows are picked in claim order FOR UPDATE SKIP
LOCKED (so claimers never wait for, nor take, each other's rows) and marked running
in the same UPDATE. If it fails midway (a statement timeout, a dropped connection)
the transaction rolls back and the jobs stay pending, claimable by anyone.
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterable, Optional, Sequence

from .. import rows, rules
from ..base import COMPLETED, Claim, ClaimedJob, OrphanJudge, Outcome, RunningClaim
from . import connection, finish, graph
from .values import iso, micros, moment

# The claim itself is gigq_claim() (migration 002): one call promotes the due delayed
# jobs, reads the paused queues, counts a fair share, and picks and marks the jobs.
# Rows are found there by "id = ANY(ARRAY(...))", by primary key whatever the plan, also
# the generic plan a cached statement may switch to, which knows no values; with
# "IN (subquery)" or a join such a plan may hash-join against a scan of every job, and a
# claim's cost would grow with the queue.
_CLAIM = "SELECT * FROM gigq_claim(%s, %s, %s, %s, %s, %s)"
_FINISH_AND_CLAIM = "SELECT * FROM gigq_finish_and_claim(%s, %s, %s, %s, %s, %s, %s)"

_RUNNING = """
    SELECT j.id, j.attempts, j.worker_id, j.started_at, j.timeout,
        w.host, w.pid, w.pid_started, d.id, d.heartbeat_at, d.machine,
        d.lease_until < extract(epoch FROM clock_timestamp())::float8
    FROM jobs AS j LEFT JOIN workers AS w ON w.id = j.worker_id LEFT JOIN daemons AS d ON d.id = w.daemon_id
    WHERE j.status = 'running'"""


class ClaimOperations:
    # Each of these is one statement in autocommit, so one round trip and one transaction,
    # unless failures are among the outcomes (then one transaction of several statements).
    def claim(self, worker_id: str, queues: Optional[Sequence[str]], limit: int = 1) -> list[ClaimedJob]:
        return self._autocommit(lambda conn: _claim(conn, worker_id, queues, limit, time.time()))

    def finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        if not outcomes:
            return []
        if len(outcomes) == 1 and outcomes[0].status == COMPLETED:  # what a worker sends after each job
            return [self._autocommit(lambda conn: finish.complete_one(conn, outcomes[0], time.time()))]
        if finish.only_completions(outcomes):
            completed = self._autocommit(lambda conn: _complete(conn, outcomes, time.time()))
            return finish.applied_of(outcomes, completed)
        return self._transact(lambda conn: finish.finish(conn, outcomes, time.time()))

    def finish_and_claim(
        self, outcomes: Sequence[Outcome], worker_id: str, queues: Optional[Sequence[str]], limit: int,
        share: int = 1,
    ) -> tuple[list[bool], list[ClaimedJob]]:
        if not outcomes or finish.only_completions(outcomes):
            return self._autocommit(lambda conn: _finish_and_claim(conn, outcomes, worker_id, queues, limit, share))

        def both(conn: Any) -> tuple[list[bool], list[ClaimedJob]]:
            now = time.time()
            return finish.finish(conn, outcomes, now), _claim(conn, worker_id, queues, limit, now, share)

        return self._transact(both)

    def release(self, claims: Iterable[Claim], reason: Optional[str] = None) -> int:
        claims = list(claims)
        return self._transact(lambda conn: sum(_release(conn, claim, reason, time.time()) for claim in claims))

    def running_claims(self) -> list[RunningClaim]:
        return [rows.running_claim((*row[:3], iso(row[3]), *row[4:])) for row in self._read(_RUNNING)]

    def requeue_orphans(self, judge: OrphanJudge) -> list[tuple[Claim, str]]:
        return rules.requeue_orphans(self, judge)

    def next_due(self) -> Optional[float]:
        return self._read("SELECT min(wait_until) FROM jobs WHERE status = 'pending' AND wait_until IS NOT NULL")[0][0]

    def parent_results(self, job_ids: Sequence[str]) -> dict[str, Any]:
        found = dict(self._read("SELECT id, result FROM jobs WHERE id = ANY(%s)", (list(job_ids),))) if job_ids else {}
        return {job_id: json.loads(found[job_id]) if found.get(job_id) is not None else None for job_id in job_ids}

    def cancel_requests(self) -> list[Claim]:
        found = self._read("SELECT id, attempts, worker_id FROM jobs WHERE status = 'running' AND cancel_requested")
        return [Claim(*row) for row in found]

    def cancel_running(self, claim: Claim, reason: str, started: float, finished: float) -> bool:
        def cancel(conn: Any) -> bool:
            row = conn.execute(
                "UPDATE jobs SET status = 'cancelled', error = %s, completed_at = %s, updated_at = %s, "
                f"worker_id = NULL, cancel_requested = false WHERE {finish.FENCE} RETURNING name, seq",
                (reason, moment(finished), moment(finished), claim.job_id, claim.attempt, claim.worker_id),
            ).fetchone()
            if row is None:
                return False
            finish.record(conn, claim, row[1], "cancelled", moment(started), moment(finished), reason)
            graph.cancel_downstream_of(conn, claim.job_id, row[0], "cancelled", finished)
            return True

        return self._transact(cancel)


def _release(conn: Any, claim: Claim, reason: Optional[str], now: float) -> int:
    row = conn.execute(
        "UPDATE jobs SET status = 'pending', attempts = attempts - 1, worker_id = NULL, updated_at = %s "
        f"WHERE {finish.FENCE} RETURNING seq, started_at, cancel_requested",
        (moment(now), claim.job_id, claim.attempt, claim.worker_id),
    ).fetchone()
    if row is None:
        return 0
    seq, started_at, cancel_requested = row
    if reason is not None:  # stopped from outside: keep the run on record, spend nothing
        finish.record(conn, claim, seq, "interrupted", started_at, moment(now), reason)
    if cancel_requested:  # a cancel asked for while it was held: honour it now, not after it runs again
        why = "before it started" if reason is None else f"and {reason}"
        graph.cancel_pending(conn, claim.job_id, f"cancelled by request {why}", now)
    return 1


def _claim(conn: Any, worker_id: str, queues: Optional[Sequence[str]], limit: int, now: float,
           share: int = 1) -> list[ClaimedJob]:
    found = connection.cursor(conn).execute(_CLAIM, (worker_id, _names(queues), limit, share, now,
                                                     micros(now))).fetchall()
    return [rows.claimed_job(row, worker_id) for row in found]  # in claim order: the function sorts them


def _complete(conn: Any, outcomes: Sequence[Outcome], now: float) -> set[str]:
    found = connection.cursor(conn).execute(finish._COMPLETE, (finish.outcomes_json(outcomes), micros(now)))
    return {row[0] for row in found.fetchall()}


def _finish_and_claim(conn: Any, outcomes: Sequence[Outcome], worker_id: str, queues: Optional[Sequence[str]],
                      limit: int, share: int) -> tuple[list[bool], list[ClaimedJob]]:
    now = time.time()
    if not outcomes:
        return [], _claim(conn, worker_id, queues, limit, now, share)
    args = (finish.outcomes_json(outcomes), worker_id, _names(queues), limit, share, now, micros(now))
    found = connection.cursor(conn).execute(_FINISH_AND_CLAIM, args).fetchall()
    completed = {row[1] for row in found if row[0]}
    return finish.applied_of(outcomes, completed), [rows.claimed_job(row[1:], worker_id) for row in found if not row[0]]


def _names(queues: Optional[Sequence[str]]) -> Optional[list[str]]:
    return None if queues is None else list(queues)
