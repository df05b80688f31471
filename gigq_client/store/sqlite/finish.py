"""Recording how attempts ended (SQLite): completions set-based per batch, failures one by one."""

from __future__ import annotations

import sqlite3
from typing import Sequence

from ...retry import backoff_delay
from ...timestamps import iso
from .. import rows
from ..base import COMPLETED, Claim, Outcome
from ..rules import first_of_each_claim
from . import executions, graph

FENCE = "id = ? AND status = 'running' AND attempts = ? AND worker_id = ?"

# A batch of completions in one statement whatever its size: the fence is joined
# against a VALUES list (id, attempt, worker, result, started, finished, pid). The
# completed attempt is recorded on the job row itself (completed_by, completed_pid):
# no execution row, so committing one outcome writes as few pages as it can.
_COMPLETE_MANY = """
    UPDATE jobs SET status = 'completed', result = o.column4, error = NULL, started_at = o.column5,
        completed_at = o.column6, updated_at = ?, worker_id = NULL, cancel_requested = 0,
        completed_by = o.column3, completed_pid = o.column7
    FROM (VALUES {values}) AS o
    WHERE jobs.id = o.column1 AND +jobs.status = 'running' AND jobs.attempts = o.column2
      AND jobs.worker_id = o.column3
    RETURNING jobs.id"""

# One completion (a worker records each job as it ends): the plain fenced update is
# cheaper than the VALUES join.
_COMPLETE_ONE = f"""
    UPDATE jobs SET status = 'completed', result = ?, error = NULL, started_at = ?, completed_at = ?,
        updated_at = ?, worker_id = NULL, cancel_requested = 0, completed_by = ?, completed_pid = ?
    WHERE {FENCE}"""

# The same, as a transaction of its own, for a job no other job waits for (most jobs):
# with dependents it changes nothing, and the caller completes it in a full transaction.
COMPLETE_ALONE = _COMPLETE_ONE + " AND NOT EXISTS (SELECT 1 FROM job_dependencies WHERE depends_on = ?)"

_WITH_DEPENDENTS = "SELECT DISTINCT depends_on FROM job_dependencies WHERE depends_on IN ({marks})"


def finish(conn: sqlite3.Connection, outcomes: Sequence[Outcome], now: float) -> list[bool]:
    """Apply each outcome whose claim still holds; a claim given twice applies once (the first)."""
    now_iso = iso(now)
    if len(outcomes) == 1:
        outcome = outcomes[0]
        if outcome.status == COMPLETED:
            return [complete_one(conn, outcome, now_iso)]
        return [fail(conn, outcome, now, now_iso)]
    firsts = first_of_each_claim(outcomes)
    done = [o for o, first in zip(outcomes, firsts) if o.status == COMPLETED and first]
    applied = complete_many(conn, done, now_iso) if done else set()
    return [
        False if not first
        else outcome.claim in applied if outcome.status == COMPLETED
        else fail(conn, outcome, now, now_iso)
        for outcome, first in zip(outcomes, firsts)
    ]


def complete_alone_args(outcome: Outcome, now_iso: str) -> tuple:
    claim = outcome.claim
    return (*_complete_args(outcome, now_iso), claim.job_id)


def _complete_args(outcome: Outcome, now_iso: str) -> tuple:
    claim = outcome.claim
    return (outcome.result, iso(outcome.started), iso(outcome.finished), now_iso, claim.worker_id, outcome.pid,
            claim.job_id, claim.attempt, claim.worker_id)


def complete_one(conn: sqlite3.Connection, outcome: Outcome, now_iso: str) -> bool:
    claim = outcome.claim
    changed = conn.execute(_COMPLETE_ONE, _complete_args(outcome, now_iso)).rowcount
    if not changed:
        return False
    if conn.execute(_WITH_DEPENDENTS.format(marks="?"), (claim.job_id,)).fetchone() is not None:
        graph.unblock_dependents(conn, claim.job_id)
    return True


def complete_many(conn: sqlite3.Connection, outcomes: Sequence[Outcome], now_iso: str) -> set[Claim]:
    values = ",".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(outcomes))
    args = [value for o in outcomes for value in (
        o.claim.job_id, o.claim.attempt, o.claim.worker_id, o.result, iso(o.started), iso(o.finished), o.pid)]
    applied_ids = [row[0] for row in conn.execute(_COMPLETE_MANY.format(values=values), [now_iso, *args])]
    if not applied_ids:
        return set()
    marks = ",".join("?" * len(applied_ids))
    for (parent,) in conn.execute(_WITH_DEPENDENTS.format(marks=marks), applied_ids).fetchall():
        graph.unblock_dependents(conn, parent)
    applied = set(applied_ids)
    return {o.claim for o in outcomes if o.claim.job_id in applied}


def fail(conn: sqlite3.Connection, outcome: Outcome, now: float, now_iso: str) -> bool:
    claim = outcome.claim
    fence = (claim.job_id, claim.attempt, claim.worker_id)
    row = conn.execute(f"SELECT max_attempts, retry_delay, name, rowid FROM jobs WHERE {FENCE}", fence).fetchone()
    if row is None:
        return False
    max_attempts, retry_delay = int(rows.number(row[0], 1, 1)[0]), rows.number(row[1], 0)[0]
    finished = iso(outcome.finished)
    executions.record(conn, [(claim.job_id, row[3], claim.worker_id, outcome.status, iso(outcome.started),
                                     finished, outcome.error, claim.attempt, outcome.pid)])
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
    graph.cancel_downstream_of(conn, claim.job_id, row[2], outcome.status, now_iso)
    return True
