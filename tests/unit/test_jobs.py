"""Defining jobs: what is accepted, and what is refused with an error that says why."""

from __future__ import annotations

import pytest

from gigq_client import Job, JobStatus, JobValidationError, task
from tests import jobfuncs


def test_module_level_function_is_stored_by_name():
    job = Job("add", jobfuncs.add, params={"a": 1, "b": 2})
    assert job.function_reference == "tests.jobfuncs:add"
    assert len(job.id) == 36 and job.max_attempts == 3 and job.timeout == 300 and job.queue == "default"


@pytest.mark.parametrize("text, expected", [("pkg.mod:func", "pkg.mod:func"), ("pkg.mod.func", "pkg.mod:func")])
def test_function_may_be_given_as_a_reference_string(text, expected):
    assert Job("x", text).function_reference == expected


@pytest.mark.parametrize(
    "function, reason",
    [
        (lambda: 1, "lambda"),
        (jobfuncs.make_closure(), "nested"),
        (jobfuncs.Holder().method, "bound method"),
        (jobfuncs.Holder.method, "inside a class"),
        (print.__call__, "not a plain function"),
        (42, "callable"),
        ("no colon or dot", "package.module:function"),
        ("pkg.mod:", "package.module:function"),
    ],
)
def test_functions_a_worker_cannot_import_are_refused_when_the_job_is_made(function, reason):
    with pytest.raises(ValueError, match=reason):
        Job("x", function)


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("timeout", -1, "timeout"),
        ("timeout", 0, "timeout"),
        ("timeout", 10**12, "timeout"),
        ("priority", 10**15, "priority"),
        ("priority", "high", "priority"),
        ("max_attempts", 0, "max_attempts"),
        ("max_attempts", 2.5, "max_attempts"),
        ("retry_delay", -3, "retry_delay"),
        ("queue", "", "queue"),
        ("queue", "a,b", "queue"),
        ("params", ["not", "a", "dict"], "params"),
        ("dependencies", "abc", "dependencies"),
        ("run_at", "next tuesday", "run_at"),
    ],
)
def test_absurd_settings_are_refused_with_the_field_named(field, value, words):
    with pytest.raises(JobValidationError, match=words):
        Job("x", jobfuncs.noop, **{field: value})


def test_empty_name_is_refused():
    with pytest.raises(ValueError, match="name"):
        Job("", jobfuncs.noop)


def test_job_status_values_compare_equal_to_their_strings():
    assert [s.value for s in JobStatus] == ["pending", "running", "completed", "failed", "cancelled", "timeout"]
    assert JobStatus.COMPLETED == "completed" and JobStatus("failed") is JobStatus.FAILED


async def _coroutine():
    return 1


def _generator():
    yield 1


class _Owner:
    def method(self):
        return 1


@pytest.mark.parametrize(
    "function, word",
    [(lambda: 1, "lambda"), (jobfuncs.make_closure(), "closure"), (_Owner.method, "method"),
     (_coroutine, "async"), (_generator, "generator")],
)
def test_task_refuses_what_a_worker_cannot_call_with_a_type_error(function, word):
    with pytest.raises(TypeError, match=word):
        task(function)


@pytest.mark.parametrize("thing", [42, "tests.jobfuncs:noop", ["noop"]])
@pytest.mark.parametrize("decorate", [task, task(timeout=5)], ids=["bare", "with-options"])
def test_task_refuses_what_is_not_callable_saying_it_must_be(thing, decorate):
    with pytest.raises(TypeError, match="must be applied to something callable") as refused:
        decorate(thing)
    assert type(thing).__name__ in str(refused.value)


def test_task_refuses_unknown_options():
    with pytest.raises(TypeError, match="unexpected option"):
        task(jobfuncs.noop, retries=3)


def test_task_builds_jobs_with_its_options():
    wrapped = task(timeout=60, max_attempts=5, queue="images")(jobfuncs.add)
    job = wrapped.to_job(a=1, b=2)
    assert (job.name, job.timeout, job.max_attempts, job.queue) == ("add", 60, 5, "images")
    assert job.params == {"a": 1, "b": 2}
    assert job.function_reference == "tests.jobfuncs:add"
    assert wrapped(2, 3) == 5


def test_fast_timestamps_match_datetime_isoformat():
    from datetime import datetime, timezone

    from gigq_client.timestamps import iso

    for epoch in (0.0, 1.5, 1_795_461_631.319520, 1_795_461_631.999999, 1_800_000_000.000001):
        expected = datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="microseconds")
        assert abs(datetime.fromisoformat(iso(epoch)).timestamp() - datetime.fromisoformat(expected).timestamp()) < 2e-6
        assert len(iso(epoch)) == len(expected) and iso(epoch).endswith("+00:00")


def test_generated_ids_are_time_ordered_version_7_uuids():
    import time
    import uuid

    from gigq_client import jobs
    from gigq_client.jobs import new_id

    jobs._IDS.clear()  # ids made ahead by earlier tests carry earlier stamps
    before_ms = time.time_ns() // 1_000_000
    ids = [new_id() for _ in range(1000)]
    after_ms = time.time_ns() // 1_000_000 + 1  # a sequence that runs over may move on a millisecond
    assert len(set(ids)) == 1000
    assert ids == sorted(ids), "ids made later must sort later"
    parsed = [uuid.UUID(i) for i in ids]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 and str(u) == i for u, i in zip(parsed, ids))
    stamps = [u.int >> 80 for u in parsed]
    assert before_ms <= stamps[0] and stamps[-1] <= after_ms


def test_ids_stay_distinct_and_ordered_when_made_faster_than_a_millisecond():
    from gigq_client import jobs

    made = [jobs._make_ids(size) for size in (4096, 1, 4096, 3000, 3000)]  # far more than 4,096 a millisecond
    ids = [i for batch in made for i in batch]
    assert len(set(ids)) == len(ids) and ids == sorted(ids)


def test_settings_changed_after_construction_are_checked_again_at_submit(tmp_path):
    from gigq_client import JobQueue

    queue = JobQueue(str(tmp_path / "jobs.db"))
    job = Job("x", jobfuncs.noop)
    job.timeout = -5
    with pytest.raises(JobValidationError, match="timeout"):
        queue.submit(job)
    job.timeout = 10
    job.params["when"] = 1
    job.params[3] = "not a string key"
    with pytest.raises(JobValidationError, match="keys must be strings"):
        queue.submit(job)
    assert queue.stats()["total"] == 0
