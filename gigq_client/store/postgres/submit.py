"""Submitting jobs to a PostgreSQL store: a whole batch in one INSERT, however many jobs."""

from __future__ import annotations

import json
import time
from typing import Any, Iterable, Optional

from ..base import NewJob
from . import graph
from .values import moment, parse

# Column arrays unnested in order: ORDINALITY keeps the batch's order in `seq`.
_INSERT = """
    INSERT INTO jobs (
        id, name, function_name, function_module, params, priority, dependencies, max_attempts,
        timeout, description, status, created_at, updated_at, attempts, pass_parent_results,
        retry_delay, queue, run_at, wait_until)
    SELECT id, name, function_name, function_module, params, priority, dependencies, max_attempts,
        timeout, description, 'pending', created_at, %s, 0, pass_parent_results,
        retry_delay, queue, run_at, wait_until
    FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::int[], %s::text[], %s::int[],
                %s::float8[], %s::text[], %s::timestamptz[], %s::bool[], %s::float8[], %s::text[],
                %s::timestamptz[], %s::float8[]) WITH ORDINALITY
        AS batch(id, name, function_name, function_module, params, priority, dependencies, max_attempts,
                 timeout, description, created_at, pass_parent_results, retry_delay, queue, run_at, wait_until, n)
    ORDER BY n"""


class SubmitOperations:
    def enqueue(self, jobs: Iterable[NewJob]) -> None:
        # Read before the transaction, so that a deadlock's victim can run again.
        batch = list(jobs)
        if not batch:
            return
        now = time.time()
        columns = _columns(batch, now)
        linked = [job for job in batch if job.dependencies]
        queues = {job.queue for job in batch}

        def insert(conn: Any) -> None:
            conn.execute(_INSERT, (moment(now), *columns))
            self._name_queues(conn, queues)
            if linked:
                graph.link(conn, linked, now)

        self._transact(insert)
        self._known_queues |= queues  # only once committed: a batch refused records nothing

    def _name_queues(self, conn: Any, names: set[str]) -> None:
        """Record new queue names (a claim across queues with some paused walks one index per name)."""
        new = sorted(names - self._known_queues)
        if new:
            conn.execute("INSERT INTO queues (name) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING", (new,))


def _columns(batch: list[NewJob], now: float) -> list[list]:
    rows = [_row(job, now) for job in batch]
    return [list(column) for column in zip(*rows)]


def _row(job: NewJob, now: float) -> tuple:
    dependencies = json.dumps(list(job.dependencies)) if job.dependencies else "[]"
    return (
        job.id, job.name, job.function, job.module, job.params, job.priority, dependencies,
        job.max_attempts, job.timeout, job.description, parse(job.created_at, now),
        job.pass_parent_results, job.retry_delay, job.queue, moment(job.run_at), _wait_until(job.run_at, now),
    )


def _wait_until(run_at: Optional[float], now: float) -> Optional[float]:
    return run_at if run_at is not None and run_at > now else None
