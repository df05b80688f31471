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
from ..base import Claim, ClaimedJob, OrphanJudge, Outcome, RunningClaim
from . import finish, graph
from .values import iso, moment

_READY = "status = 'pending' AND blockers = 0 AND wait_until IS NULL"
_ORDER = "ORDER BY priority DESC, seq"
_RETURNING = rows._CLAIM_COLUMNS.replace("rowid", "seq")

# Due delayed jobs become ready, and the paused queues are read, in one round trip.
# SKIP LOCKED: two claimers never wait on each other to promote the same rows.
# "id = ANY(ARRAY(...))" here and below: rows are found by primary key whatever the plan,
# also the generic plan a prepared statement may switch to, which knows no values; with
# "IN (subquery)" or a join such a plan may hash-join against a scan of every job, and a
# claim's cost would grow with the queue.
_PREPARE = """
    WITH due AS (
        UPDATE jobs SET wait_until = NULL
        WHERE id = ANY(ARRAY(SELECT id FROM jobs WHERE status = 'pending' AND wait_until <= %s FOR UPDATE SKIP LOCKED))
    )
    SELECT ARRAY(SELECT queue FROM paused_queues)"""

_PICK_ANY = f"SELECT id FROM jobs WHERE {_READY} {_ORDER} LIMIT %(limit)s FOR UPDATE SKIP LOCKED"
_PICK_ONE_QUEUE = f"SELECT id FROM jobs WHERE {_READY} AND queue = %(queue)s {_ORDER} LIMIT %(limit)s FOR UPDATE SKIP LOCKED"
# Several queues: the first `limit` rows of each, merged. It may lock up to `limit` rows
# per queue for the statement's few milliseconds; a claimer meanwhile skips them.
_PICK_QUEUES = f"""
    SELECT r.id FROM unnest(%(queues)s::text[]) AS q(name) CROSS JOIN LATERAL (
        SELECT id, priority, seq FROM jobs WHERE {_READY} AND queue = q.name {_ORDER} LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED) AS r
    ORDER BY r.priority DESC, r.seq LIMIT %(limit)s"""

_CLAIM = """
    WITH picked AS MATERIALIZED ({pick})
    UPDATE jobs SET status = 'running', attempts = attempts + 1, worker_id = %(worker)s,
        started_at = %(now)s, updated_at = %(now)s
    WHERE jobs.id = ANY(ARRAY(SELECT id FROM picked))
    RETURNING {returning}"""
_CLAIMS = {kind: _CLAIM.format(pick=pick, returning=_RETURNING)
           for kind, pick in (("any", _PICK_ANY), ("one", _PICK_ONE_QUEUE), ("several", _PICK_QUEUES))}
_COUNTS = {kind: f"SELECT count(*) FROM ({pick.replace(' FOR UPDATE SKIP LOCKED', '')}) AS ready"
           for kind, pick in (("any", _PICK_ANY), ("one", _PICK_ONE_QUEUE), ("several", _PICK_QUEUES))}

_RUNNING = """
    SELECT j.id, j.attempts, j.worker_id, j.started_at, j.timeout,
        w.host, w.pid, w.pid_started, d.id, d.heartbeat_at, d.machine,
        d.lease_until < extract(epoch FROM clock_timestamp())::float8
    FROM jobs AS j LEFT JOIN workers AS w ON w.id = j.worker_id LEFT JOIN daemons AS d ON d.id = w.daemon_id
    WHERE j.status = 'running'"""


class ClaimOperations:
    def claim(self, worker_id: str, queues: Optional[Sequence[str]], limit: int = 1) -> list[ClaimedJob]:
        # No BEGIN/COMMIT: the claim is one statement, a transaction by itself; promoting the
        # due jobs before it is housekeeping that stands on its own. Two round trips, not four.
        return self._autocommit(lambda conn: _claim(conn, worker_id, queues, limit, time.time()))

    def finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        if not outcomes:
            return []
        return self._transact(lambda conn: finish.finish(conn, outcomes, time.time()))

    def finish_and_claim(
        self, outcomes: Sequence[Outcome], worker_id: str, queues: Optional[Sequence[str]], limit: int,
        share: int = 1,
    ) -> tuple[list[bool], list[ClaimedJob]]:
        def both(conn: Any) -> tuple[list[bool], list[ClaimedJob]]:
            now = time.time()
            applied = finish.finish(conn, outcomes, now) if outcomes else []
            return applied, _claim(conn, worker_id, queues, limit, now, share)

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
    paused = set(conn.execute(_PREPARE, (now,)).fetchone()[0])
    kind, args = _selection(conn, queues, paused)
    if kind is None:
        return []
    args["limit"] = limit
    if share > 1 and limit > 1:
        args["limit"] = _fair_share(conn, kind, dict(args), limit, share)
    found = conn.execute(_CLAIMS[kind], {**args, "worker": worker_id, "now": moment(now)}).fetchall()
    submitted = {row[0]: row[13] for row in found}
    jobs = [rows.claimed_job(row, worker_id) for row in found]
    jobs.sort(key=lambda job: (-job.priority, submitted[job.job_id]))  # RETURNING has no order
    return jobs


def _selection(conn: Any, queues: Optional[Sequence[str]], paused: set[str]) -> tuple[Optional[str], dict]:
    """Which pick to run, and its arguments: all queues by the ready index, one queue by
    its part of the per-queue index, several by one walk of that index per queue."""
    if "*" in paused:
        return None, {}
    if queues is None and not paused:
        return "any", {}
    names = queues if queues is not None else [row[0] for row in conn.execute("SELECT name FROM queues").fetchall()]
    wanted = sorted({name for name in names if name not in paused})
    if not wanted:
        return None, {}
    if len(wanted) == 1:
        return "one", {"queue": wanted[0]}
    return "several", {"queues": wanted}


def _fair_share(conn: Any, kind: str, args: dict, limit: int, share: int) -> int:
    """`limit`, or 1/share of the ready jobs if fewer than limit x share are ready.
    Counting stops at limit x share rows, so the cost stays flat in a deep queue."""
    args["limit"] = limit * share
    ready = conn.execute(_COUNTS[kind], args).fetchone()[0]
    return max(1, min(limit, -(-ready // share)))
