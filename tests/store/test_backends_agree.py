"""The client sees the same thing from either backend: get_status, list_jobs and stats,
key for key and type for type, after the same history on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
import time

from gigq_client import Job, JobQueue
from tests.jobfuncs import noop
from tests.store.helpers import completed, failed

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
TIMES = {"created_at", "updated_at", "started_at", "completed_at", "retry_after", "run_at"}
ALWAYS_DIFFERENT = {"id"} | TIMES  # execution ids and clocks differ between runs


def _history(queue: JobQueue, jobs: list[Job]) -> None:
    queue.submit_many(jobs)
    store = queue.store
    first = store.claim("w1", None, 1)[0]
    store.finish([completed(first, '{"answer": 42}')])
    second = store.claim("w2", None, 1)[0]
    store.finish([failed(second, "boom", retryable=False)])
    store.claim("w3", None, 1)  # left running


def _jobs() -> list[Job]:
    parent = Job("parent", noop, params={"n": 1}, priority=5, timeout=30, description="the first")
    failing = Job("failing", noop, priority=4, max_attempts=1, retry_delay=1.5, queue="other")
    child = Job("child", noop, dependencies=[parent.id], pass_parent_results=True, priority=3)
    later = Job("later", noop, run_at=time.time() + 3600, timeout=0.5)
    return [parent, failing, child, later]


def _shape(value):
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return type(value).__name__


def _comparable(job: dict) -> dict:
    job = {key: value for key, value in job.items() if key not in ALWAYS_DIFFERENT}
    job["executions"] = [{k: v for k, v in e.items() if k not in ALWAYS_DIFFERENT} for e in job.get("executions", [])]
    return job


def test_get_status_list_jobs_and_stats_agree_between_backends(db_path, postgres_url):
    jobs = _jobs()
    with JobQueue(db_path) as on_sqlite, JobQueue(postgres_url) as on_postgres:
        _history(on_sqlite, jobs)
        _history(on_postgres, jobs)
        for job in jobs:
            sqlite_status, postgres_status = on_sqlite.get_status(job.id), on_postgres.get_status(job.id)
            assert _shape(postgres_status) == _shape(sqlite_status), job.name
            assert _comparable(postgres_status) == _comparable(sqlite_status), job.name
            for name in TIMES:
                for status in (sqlite_status, postgres_status):
                    assert status[name] is None or ISO.match(status[name]), (job.name, name, status[name])
                    for execution in status["executions"]:
                        assert execution.get(name) is None or ISO.match(execution[name])
        assert on_postgres.get_status(jobs[0].id)["created_at"] == on_sqlite.get_status(jobs[0].id)["created_at"]
        assert [_comparable(j) for j in on_postgres.list_jobs()] == [_comparable(j) for j in on_sqlite.list_jobs()]
        assert on_postgres.stats() == on_sqlite.stats()
        assert on_postgres.stats("other") == on_sqlite.stats("other")
        assert on_postgres.get_result(jobs[0].id) == on_sqlite.get_result(jobs[0].id) == {"answer": 42}
        assert on_postgres.get_status("no-such-id") == on_sqlite.get_status("no-such-id") == {"exists": False}
