"""Submitting jobs to a PostgreSQL store: one job in one statement, a batch by COPY."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any, Iterable, Iterator, Optional

from ...errors import GigqError
from ..base import NewJob
from . import connection, graph
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
# The same, then the NOTIFY after its commit, in one round trip (migration 004): the row's
# values, updated_at, and whether the queue's name is new to this process.
_SUBMIT_ONE = "CALL gigq_submit_one(" + ", ".join(["%s"] * 19) + ")"
_TRANSACTION_CONTROL_REFUSED = "2D000"  # a procedure may not COMMIT here: an old server, a pooler
_NOTIFY_QUEUE_FULL = "54000"  # raised by the NOTIFY's commit, after the job's own
_COPY = f"COPY jobs ({_COLUMNS}) FROM STDIN"
_COPY_CHUNK = 1000  # rows per write: few calls, little held in memory at once
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_FLAGS = {None: "\\N", True: "t", False: "f"}


class SubmitOperations:
    _one_trip = True  # False once the server refused the procedure's COMMIT

    def enqueue_and_notify(self, jobs: list[NewJob]) -> None:
        if not (self._one_trip and len(jobs) == 1 and not jobs[0].dependencies):
            return super().enqueue_and_notify(jobs)
        try:
            notify = self._daemons_registered()
        except GigqError:
            notify = True  # the CALL will say what is wrong; an unheard hint costs nothing
        if not notify:  # no one to wake: the plain INSERT costs the server less than the CALL
            return self.enqueue(jobs)
        job, now = jobs[0], time.time()
        args = (*_row(job, now), moment(now), job.queue not in self._known_queues)
        if self._autocommit(lambda conn: _call_submit(conn, args)):
            self._known_queues.add(job.queue)
            return
        self._one_trip = False
        super().enqueue_and_notify(jobs)

    def enqueue(self, jobs: Iterable[NewJob]) -> None:
        batch = _Replayable(jobs)
        first = batch.peek(2)
        if not first:
            return
        now = time.time()
        if len(first) == 1 and not first[0].dependencies:
            job = first[0]
            if job.queue in self._known_queues:
                self._execute(_INSERT_ONE_KNOWN_QUEUE, (*_row(job, now), moment(now)))
            else:
                self._execute(_INSERT_ONE, (job.queue, *_row(job, now), moment(now)))
                self._known_queues.add(job.queue)
            return
        self._transact(lambda conn: _insert_many(conn, batch, now, self._known_queues))
        self._known_queues |= {job.queue for job in batch.seen}  # once committed: a refused batch records nothing


class _Replayable:
    """The caller's jobs, made one at a time while the COPY streams them, so that making
    them (JobQueue turns each Job into a NewJob here) overlaps the server's work on the
    rows already sent; each is kept, so that a deadlock's victim runs again with the same."""

    def __init__(self, jobs: Iterable[NewJob]):
        self._source: Iterator[NewJob] = iter(jobs)
        self.seen: list[NewJob] = []

    def peek(self, count: int) -> list[NewJob]:
        for job in itertools.islice(self._source, max(0, count - len(self.seen))):
            self.seen.append(job)
        return self.seen[:count]

    def __iter__(self) -> Iterator[NewJob]:
        index = 0
        while True:
            if index == len(self.seen):
                job = next(self._source, None)
                if job is None:
                    return
                self.seen.append(job)
            yield self.seen[index]
            index += 1


def _insert_many(conn: Any, batch: _Replayable, now: float, known_queues: set[str]) -> None:
    tail = f"\tpending\t{moment(now).isoformat()}\t0\n"
    jobs = iter(batch)
    with conn.cursor().copy(_COPY) as copy:  # the fastest way in: rows streamed, no statement per job
        while chunk := "".join(_copy_line(job, now, tail) for job in itertools.islice(jobs, _COPY_CHUNK)):
            copy.write(chunk)
    new_queues = sorted({job.queue for job in batch.seen} - known_queues)
    if new_queues:
        conn.execute("INSERT INTO queues (name) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING", (new_queues,))
    linked = [job for job in batch.seen if job.dependencies]
    if linked:
        graph.link(conn, linked, now)


def _call_submit(conn: Any, args: tuple) -> bool:
    """CALL gigq_submit_one; False if the server refused its COMMIT (nothing was stored)."""
    try:
        connection.cursor(conn).execute(_SUBMIT_ONE, args)
    except connection.driver().Error as error:
        code = getattr(error, "sqlstate", None)
        if code == _TRANSACTION_CONTROL_REFUSED:
            return False
        if code != _NOTIFY_QUEUE_FULL:  # a full queue refuses the hint only: the job is stored
            raise
    return True


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


def _copy_line(job: NewJob, now: float, tail: str) -> str:
    """_row() in COPY's text format, made here: psycopg's write_row() took a third of the
    Python time of a submit_many (11 us a row, as long as all the rest together)."""
    wait_until = _wait_until(job.run_at, now)
    return "\t".join((
        _escaped(job.id), _escaped(job.name), _escaped(job.function), _escaped(job.module), _escaped(job.params),
        str(job.priority), _escaped(json.dumps(list(job.dependencies))) if job.dependencies else "[]",
        str(job.max_attempts), str(job.timeout), _nullable(job.description), parse(job.created_at, now).isoformat(),
        _FLAGS[job.pass_parent_results], str(job.retry_delay), _escaped(job.queue),
        "\\N" if job.run_at is None else moment(job.run_at).isoformat(),
        "\\N" if wait_until is None else repr(wait_until), str(len(job.dependencies)),
    )) + tail


def _escaped(text: str) -> str:
    """A text field of COPY's text format: backslash, tab, newline and return escaped."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.translate(_COPY_ESCAPES)
    return text


def _nullable(text: Optional[str]) -> str:
    return "\\N" if text is None else _escaped(text)


def _wait_until(run_at: Optional[float], now: float) -> Optional[float]:
    return run_at if run_at is not None and run_at > now else None
