"""Recording how attempts ended (PostgreSQL): completions in one call per batch, failures one by one."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Optional, Sequence

from ...retry import backoff_delay
from .. import rows
from ..base import COMPLETED, Claim, Outcome
from ..history import new_id
from ..rules import first_of_each_claim
from . import graph
from .connection import cursor
from .values import micros, moment

_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
FENCE = "id = %s AND status = 'running' AND attempts = %s AND worker_id = %s"

_EXECUTION_COLUMNS = "id, job_id, job_seq, worker_id, status, started_at, completed_at, error, attempt, pid"

# Completions, and the unblocking of their dependents, in one call (migration 002).
_COMPLETE = "SELECT gigq_complete(%s, %s)"
_COMPLETE_ONE = "SELECT gigq_complete_one(%s, %s, %s, %s, %s, %s, %s, %s)"


def only_completions(outcomes: Sequence[Outcome]) -> bool:
    """True when every outcome is a completion of its own claim: one function call records them."""
    return all(o.status == COMPLETED for o in outcomes) and all(first_of_each_claim(outcomes))


def outcomes_json(outcomes: Sequence[Outcome]) -> str:
    """Completions as gigq_complete() reads them (migration 002): one parameter, one C encoder call."""
    return _ENCODE([(o.claim.job_id, o.claim.attempt, o.claim.worker_id, o.result, micros(o.started),
                     micros(o.finished), o.pid) for o in outcomes])


def complete_one(conn: Any, outcome: Outcome, now: float) -> bool:
    claim = outcome.claim
    return cursor(conn).execute(_COMPLETE_ONE, (claim.job_id, claim.attempt, claim.worker_id, outcome.result,
                                                micros(outcome.started), micros(outcome.finished), outcome.pid,
                                                micros(now))).fetchone()[0]


def applied_of(outcomes: Sequence[Outcome], completed: set[str]) -> list[bool]:
    return [o.claim.job_id in completed for o in outcomes]


def finish(conn: Any, outcomes: Sequence[Outcome], now: float) -> list[bool]:
    """Apply each outcome whose claim still holds; a claim given twice applies once (the first)."""
    firsts = first_of_each_claim(outcomes)
    done = [o for o, first in zip(outcomes, firsts) if o.status == COMPLETED and first]
    applied = complete_many(conn, done, now) if done else set()
    return [
        False if not first
        else outcome.claim in applied if outcome.status == COMPLETED
        else fail(conn, outcome, now)
        for outcome, first in zip(outcomes, firsts)
    ]


def complete_many(conn: Any, outcomes: Sequence[Outcome], now: float) -> set[Claim]:
    completed = {row[0] for row in conn.execute(_COMPLETE, (outcomes_json(outcomes), micros(now))).fetchall()}
    return {o.claim for o in outcomes if o.claim.job_id in completed}


def record(conn: Any, claim: Claim, job_seq: int, status: str, started: Optional[datetime], finished: datetime,
           error: Any, pid: Any = None) -> None:
    """One execution row for an attempt that ended other than by completing."""
    conn.execute(
        f"INSERT INTO job_executions ({_EXECUTION_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (new_id(), claim.job_id, job_seq, claim.worker_id, status, started, finished, error, claim.attempt, pid),
    )


def fail(conn: Any, outcome: Outcome, now: float) -> bool:
    claim = outcome.claim
    fence = (claim.job_id, claim.attempt, claim.worker_id)
    query = f"SELECT max_attempts, retry_delay, name, seq FROM jobs WHERE {FENCE} FOR UPDATE"
    row = conn.execute(query, fence).fetchone()
    if row is None:
        return False
    max_attempts, retry_delay = int(rows.number(row[0], 1, 1)[0]), rows.number(row[1], 0)[0]
    record(conn, claim, row[3], outcome.status, moment(outcome.started), moment(outcome.finished), outcome.error,
           outcome.pid)
    if outcome.retryable and claim.attempt < max_attempts:
        delay = backoff_delay(claim.attempt, retry_delay)
        wait_until = now + delay if delay > 0 else None
        conn.execute(
            "UPDATE jobs SET status = 'pending', error = %s, worker_id = NULL, wait_until = %s, retry_after = %s, "
            "updated_at = %s WHERE id = %s",
            (outcome.error, wait_until, moment(wait_until), moment(now), claim.job_id),
        )
        return True
    conn.execute(
        "UPDATE jobs SET status = %s, error = %s, worker_id = NULL, completed_at = %s, updated_at = %s, "
        "cancel_requested = false WHERE id = %s",
        (outcome.status, outcome.error, moment(outcome.finished), moment(now), claim.job_id),
    )
    graph.cancel_downstream_of(conn, claim.job_id, row[2], outcome.status, now)
    return True
