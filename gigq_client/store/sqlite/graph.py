"""Dependency bookkeeping shared by submit, finish, cancel and requeue (SQLite)."""

from __future__ import annotations

import sqlite3
from typing import Optional, Sequence

from ..base import NewJob
from ..rules import dead_parent_reason, refuse_cycles, unknown_dependency

# "+status" keeps the planner off the status index in the statements below: they
# must look jobs up by id, not walk every pending row.
_DOWNSTREAM = """
    WITH RECURSIVE downstream(id) AS (
        SELECT job_id FROM job_dependencies WHERE depends_on = ?
        UNION
        SELECT d.job_id FROM job_dependencies AS d JOIN downstream ON d.depends_on = downstream.id
    )"""

_CANCEL_DOWNSTREAM = _DOWNSTREAM + """
    UPDATE jobs SET status = 'cancelled', error = ?, cancelled_by = ?, completed_at = ?, updated_at = ?
    WHERE id IN (SELECT id FROM downstream) AND +status = 'pending'"""

_REVIVE_DOWNSTREAM = _DOWNSTREAM + """
    UPDATE jobs SET status = 'pending', error = NULL, cancelled_by = NULL, completed_at = NULL,
        started_at = NULL, attempts = 0, updated_at = ?
    WHERE id IN (SELECT id FROM downstream) AND +status = 'cancelled' AND cancelled_by = ?
    RETURNING id"""

_COUNT_BLOCKERS = """
    UPDATE jobs SET blockers = (
        SELECT count(*) FROM job_dependencies AS d JOIN jobs AS parent ON parent.id = d.depends_on
        WHERE d.job_id = jobs.id AND parent.status != 'completed')
    WHERE id = ?"""

_UNBLOCK_DEPENDENTS = """
    UPDATE jobs SET blockers = blockers - 1
    WHERE id IN (SELECT job_id FROM job_dependencies WHERE depends_on = ?)
      AND +status = 'pending' AND blockers > 0"""

# A cascade is owned by the job whose own end started it, never by a job it took down:
# requeueing that one job must bring back everything below it, however deep.
_DEAD_PARENTS = """
    SELECT parent.id, parent.name, parent.status, coalesce(parent.cancelled_by, parent.id) FROM job_dependencies AS d
    JOIN jobs AS parent ON parent.id = d.depends_on
    WHERE d.job_id = ? AND parent.status IN ('failed', 'timeout', 'cancelled')
    ORDER BY parent.id"""


def link(conn: sqlite3.Connection, jobs: Sequence[NewJob], now_iso: str) -> None:
    """Record the dependencies of newly inserted jobs and count what each waits for."""
    refuse_cycles(jobs)
    conn.executemany(
        "INSERT OR IGNORE INTO job_dependencies (job_id, depends_on) VALUES (?, ?)",
        [(job.id, parent) for job in jobs for parent in job.dependencies],
    )
    for job in jobs:
        _refuse_unknown(conn, job)
        conn.execute(_COUNT_BLOCKERS, (job.id,))
    for job in jobs:
        for parent_id, parent_name, status, owner in conn.execute(_DEAD_PARENTS, (job.id,)).fetchall():
            cancel_downstream_of(conn, parent_id, parent_name, status, now_iso, owner)


def _refuse_unknown(conn: sqlite3.Connection, job: NewJob) -> None:
    missing = conn.execute(
        "SELECT d.depends_on FROM job_dependencies AS d LEFT JOIN jobs AS parent ON parent.id = d.depends_on "
        "WHERE d.job_id = ? AND parent.id IS NULL LIMIT 1",
        (job.id,),
    ).fetchone()
    if missing:
        raise unknown_dependency(job.name, missing[0])


def cancel_downstream_of(conn: sqlite3.Connection, parent_id: str, name: str, status: str, now_iso: str,
                         owner: Optional[str] = None) -> int:
    """Cancel every pending job downstream of `parent_id`, which ended `status`: nothing
    waits on a dead parent. `owner` is the job whose requeue brings them back (the parent
    itself unless a cascade took it down too)."""
    reason = dead_parent_reason(parent_id, name, status)
    return conn.execute(_CANCEL_DOWNSTREAM, (parent_id, reason, owner or parent_id, now_iso, now_iso)).rowcount


def cancel_pending(conn: sqlite3.Connection, job_id: str, error: str, now_iso: str) -> bool:
    """Cancel a pending job and everything waiting on it; False if it is not pending."""
    row = conn.execute(
        "UPDATE jobs SET status = 'cancelled', completed_at = ?, updated_at = ?, error = ?, cancel_requested = 0 "
        "WHERE id = ? AND status = 'pending' RETURNING name",
        (now_iso, now_iso, error, job_id),
    ).fetchone()
    if row is None:
        return False
    cancel_downstream_of(conn, job_id, row[0], "cancelled", now_iso)
    return True


def revive_downstream(conn: sqlite3.Connection, root_id: str, now_iso: str) -> int:
    """Bring back the jobs a cancelled cascade from `root_id` took down. One that also
    waits on another dead job is cancelled again, now on that job's account, so that
    requeueing that one brings it back in turn."""
    revived = [row[0] for row in conn.execute(_REVIVE_DOWNSTREAM, (root_id, now_iso, root_id)).fetchall()]
    dead_parents = {}
    for job_id in revived:
        conn.execute(_COUNT_BLOCKERS, (job_id,))
        for parent_id, name, status, owner in conn.execute(_DEAD_PARENTS, (job_id,)).fetchall():
            dead_parents[parent_id] = (name, status, owner)
    for parent_id, (name, status, owner) in sorted(dead_parents.items()):  # id order, as on PostgreSQL
        cancel_downstream_of(conn, parent_id, name, status, now_iso, owner)
    return len(revived)


def recount_blockers(conn: sqlite3.Connection, job_id: str) -> None:
    conn.execute(_COUNT_BLOCKERS, (job_id,))


def unblock_dependents(conn: sqlite3.Connection, parent_id: str) -> None:
    conn.execute(_UNBLOCK_DEPENDENTS, (parent_id,))


def has_dead_parent(conn: sqlite3.Connection, job_id: str) -> bool:
    return conn.execute(_DEAD_PARENTS, (job_id,)).fetchone() is not None
