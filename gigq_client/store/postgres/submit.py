"""Submitting jobs to a PostgreSQL store: one job in one statement, a batch by COPY."""

from __future__ import annotations

import json
import time
from typing import Any, Iterable, Optional

from ..base import NewJob
from . import graph
from .values import moment, parse

_COLUMNS = (
    "id, name, function_name, function_module, params, priority, dependencies, max_attempts, timeout, "
    "description, created_at, pass_parent_results, retry_delay, queue, run_at, wait_until, blockers, "
    "status, updated_at, attempts"
)
# One job without dependencies: a single statement, so a transaction by itself (autocommit),
# recording its queue's name in the same statement unless this process recorded it before
# (queue names are never removed).
_VALUES = "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'pending', %s, 0)"
_INSERT_ONE = f"""
    WITH named AS (INSERT INTO queues (name) VALUES (%s) ON CONFLICT DO NOTHING)
    INSERT INTO jobs ({_COLUMNS}) {_VALUES}"""
_INSERT_ONE_KNOWN_QUEUE = f"INSERT INTO jobs ({_COLUMNS}) {_VALUES}"
_COPY = f"COPY jobs ({_COLUMNS}) FROM STDIN"


class SubmitOperations:
    def enqueue(self, jobs: Iterable[NewJob]) -> None:
        # Read before the transaction, so that a deadlock's victim can run again.
        batch = list(jobs)
        if not batch:
            return
        now = time.time()
        if len(batch) == 1 and not batch[0].dependencies:
            job = batch[0]
            if job.queue in self._known_queues:
                self._execute(_INSERT_ONE_KNOWN_QUEUE, (*_row(job, now), moment(now)))
            else:
                self._execute(_INSERT_ONE, (job.queue, *_row(job, now), moment(now)))
                self._known_queues.add(job.queue)
            return
        self._transact(lambda conn: _insert_many(conn, batch, now, self._known_queues))
        self._known_queues |= {job.queue for job in batch}  # once committed: a refused batch records nothing


def _insert_many(conn: Any, batch: list[NewJob], now: float, known_queues: set[str]) -> None:
    stamp = moment(now)
    with conn.cursor().copy(_COPY) as copy:  # the fastest way in: rows streamed, no statement per job
        for job in batch:
            copy.write_row((*_row(job, now), "pending", stamp, 0))
    new_queues = sorted({job.queue for job in batch} - known_queues)
    if new_queues:
        conn.execute("INSERT INTO queues (name) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING", (new_queues,))
    linked = [job for job in batch if job.dependencies]
    if linked:
        graph.link(conn, linked, now)


def _row(job: NewJob, now: float) -> tuple:
    dependencies = json.dumps(list(job.dependencies)) if job.dependencies else "[]"
    return (
        job.id, job.name, job.function, job.module, job.params, job.priority, dependencies,
        job.max_attempts, job.timeout, job.description, parse(job.created_at, now),
        job.pass_parent_results, job.retry_delay, job.queue, moment(job.run_at), _wait_until(job.run_at, now),
        # Not ready until counted: a row stored ready and then blocked would leave an entry
        # in the ready index that every claim walks past until VACUUM removes it.
        len(job.dependencies),
    )


def _wait_until(run_at: Optional[float], now: float) -> Optional[float]:
    return run_at if run_at is not None and run_at > now else None
