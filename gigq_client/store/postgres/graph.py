"""Dependency bookkeeping shared by submit, finish, cancel and requeue (PostgreSQL).

Several transactions run at once here, unlike on SQLite. A job's count of unfinished
dependencies ("blockers") is therefore counted only after locking those dependencies
FOR SHARE, in a statement of its own: a dependency that is completing meanwhile either
finished first (and the count, on a fresh snapshot, sees it completed) or waits for us
to commit (and its own unblocking statement then sees this job's dependency rows).
That unblocking statement runs inside gigq_complete() (migration 002), a statement of
its own there too: each statement of a VOLATILE function takes a fresh snapshot.

Statements that look jobs up by the job they depend on run unprepared (prepare=False),
so the server plans them for the values given: a prepared statement may switch to a
generic plan, and where one job has thousands of dependents the statistics make that
plan scan every dependency, on each completion of any job.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from ..base import NewJob
from ..rules import DEAD, dead_parent_reason, refuse_cycles, unknown_dependency
from .values import moment

_DOWNSTREAM = """
    WITH RECURSIVE downstream(id) AS (
        SELECT job_id FROM job_dependencies WHERE depends_on = %s
        UNION
        SELECT d.job_id FROM job_dependencies AS d JOIN downstream ON d.depends_on = downstream.id
    )"""

_CANCEL_DOWNSTREAM = _DOWNSTREAM + """
    UPDATE jobs SET status = 'cancelled', error = %s, cancelled_by = %s, completed_at = %s, updated_at = %s
    WHERE id = ANY(ARRAY(SELECT id FROM downstream)) AND status = 'pending'"""

_REVIVE_DOWNSTREAM = _DOWNSTREAM + """
    UPDATE jobs SET status = 'pending', error = NULL, cancelled_by = NULL, completed_at = NULL,
        started_at = NULL, attempts = 0, updated_at = %s
    WHERE id = ANY(ARRAY(SELECT id FROM downstream)) AND status = 'cancelled' AND cancelled_by = %s
    RETURNING id"""

# "id = ANY(ARRAY(...))": rows found by primary key whatever the plan (see claims.py).
_PARENTS = "ARRAY(SELECT depends_on FROM job_dependencies WHERE job_id = ANY(%s))"

_LOCK_PARENTS = f"SELECT 1 FROM jobs WHERE id = ANY({_PARENTS}) ORDER BY id FOR SHARE"

_COUNT_BLOCKERS = """
    UPDATE jobs SET blockers = (
        SELECT count(*) FROM job_dependencies AS d JOIN jobs AS parent ON parent.id = d.depends_on
        WHERE d.job_id = jobs.id AND parent.status <> 'completed')
    WHERE id = ANY(%s)"""

# A cascade is owned by the job whose own end started it, never by a job it took down:
# requeueing that one job must bring back everything below it, however deep. Id order
# by code point (COLLATE "C"), as SQLite sorts: the same owner on both stores.
_DEAD_PARENTS = (f"SELECT id, name, status, coalesce(cancelled_by, id) FROM jobs WHERE id = ANY({_PARENTS}) "
                 'AND status = ANY(%s) ORDER BY id COLLATE "C"')


def link(conn: Any, jobs: Sequence[NewJob], now: float) -> None:
    """Record the dependencies of newly inserted jobs and count what each waits for."""
    refuse_cycles(jobs)
    pairs = [(job.id, parent) for job in jobs for parent in job.dependencies]
    conn.execute("INSERT INTO job_dependencies (job_id, depends_on) SELECT * FROM unnest(%s::text[], %s::text[]) "
                 "ON CONFLICT DO NOTHING", ([child for child, _ in pairs], [parent for _, parent in pairs]))
    ids = [job.id for job in jobs]
    parents = sorted({parent for _, parent in pairs})
    known = {row[0] for row in conn.execute("SELECT id FROM jobs WHERE id = ANY(%s)", (parents,))}
    for job in jobs:
        for parent in job.dependencies:
            if parent not in known:
                raise unknown_dependency(job.name, parent)
    recount_blockers(conn, ids)
    cancel_below_dead_parents(conn, ids, now)


def lock_parents(conn: Any, job_ids: list[str]) -> None:
    """Hold the dependencies of these jobs in their present state until we commit."""
    conn.execute(_LOCK_PARENTS, (job_ids,))


def recount_blockers(conn: Any, job_ids: list[str]) -> None:
    lock_parents(conn, job_ids)
    conn.execute(_COUNT_BLOCKERS, (job_ids,))


def cancel_below_dead_parents(conn: Any, job_ids: list[str], now: float) -> None:
    """Nothing waits on a dead parent: cancel what hangs below each of these jobs' dead parents."""
    for parent_id, name, status, owner in conn.execute(_DEAD_PARENTS, (job_ids, list(DEAD))).fetchall():
        cancel_downstream_of(conn, parent_id, name, status, now, owner)


def has_dead_parent(conn: Any, job_id: str) -> bool:
    return conn.execute(_DEAD_PARENTS, ([job_id], list(DEAD))).fetchone() is not None


def cancel_downstream_of(conn: Any, parent_id: str, name: str, status: str, now: float,
                         owner: Optional[str] = None) -> int:
    """Cancel every pending job downstream of `parent_id`, which ended `status`. `owner` is
    the job whose requeue brings them back (the parent itself unless a cascade took it down too)."""
    reason = dead_parent_reason(parent_id, name, status)
    stamp = moment(now)
    args = (parent_id, reason, owner or parent_id, stamp, stamp)
    return conn.execute(_CANCEL_DOWNSTREAM, args, prepare=False).rowcount


def cancel_pending(conn: Any, job_id: str, error: str, now: float) -> bool:
    """Cancel a pending job and everything waiting on it; False if it is not pending."""
    stamp = moment(now)
    row = conn.execute(
        "UPDATE jobs SET status = 'cancelled', completed_at = %s, updated_at = %s, error = %s, "
        "cancel_requested = false WHERE id = %s AND status = 'pending' RETURNING name",
        (stamp, stamp, error, job_id),
    ).fetchone()
    if row is None:
        return False
    cancel_downstream_of(conn, job_id, row[0], "cancelled", now)
    return True


def revive_downstream(conn: Any, root_id: str, now: float) -> int:
    """Bring back the jobs a cancelled cascade from `root_id` took down. One that also
    waits on another dead job is cancelled again, now on that job's account."""
    revived = [row[0] for row in conn.execute(_REVIVE_DOWNSTREAM, (root_id, moment(now), root_id), prepare=False)]
    if revived:
        recount_blockers(conn, revived)
        cancel_below_dead_parents(conn, revived, now)
    return len(revived)
