"""The jobs waiting behind a long job are taken from the job loop only while that job runs long."""

from __future__ import annotations

import time

from gigq_client.execute import Executor
from gigqd.worker.runner import HAND_BACK_AFTER, JobRunner
from tests.store.helpers import new_job


def _runner_holding(store, count: int) -> JobRunner:
    store.enqueue([new_job(f"j{i}") for i in range(count)])
    runner = JobRunner(store, "w1", None, Executor(["tests"], 1000, store.parent_results), batch_max=count)
    assert runner.claim(limit=count) == count
    return runner


def test_nothing_is_taken_between_jobs_or_while_the_job_is_young(store):
    runner = _runner_holding(store, 3)
    assert runner.take_waiting_behind_long_job(time.monotonic()) == []  # no job running
    runner.running_since = time.monotonic()
    assert runner.take_waiting_behind_long_job(runner.running_since + HAND_BACK_AFTER / 2) == []
    assert runner.has_work and len(runner.waiting) == 3


def test_the_waiting_jobs_of_a_long_job_are_taken_once_and_never_started(store):
    runner = _runner_holding(store, 3)
    runner.waiting.popleft()  # the first one is running
    runner.running_since = time.monotonic()
    taken = runner.take_waiting_behind_long_job(runner.running_since + HAND_BACK_AFTER + 0.01)
    assert [claim.job_id for claim in taken] == [job.job_id for job in runner.batch[1:]]
    assert not runner.has_work  # the job loop will not start them
    assert runner.take_waiting_behind_long_job(runner.running_since + 10) == []
    assert store.release(taken) == 2 and store.stats()["pending"] == 2


def test_claims_the_thread_could_not_release_are_released_by_the_next_claim(store):
    runner = _runner_holding(store, 2)
    runner.waiting.popleft()
    runner.running_since = time.monotonic()
    runner.keep_for_release(runner.take_waiting_behind_long_job(runner.running_since + HAND_BACK_AFTER + 0.01))
    runner.running_since = 0.0
    runner.claim(limit=2)  # releases it first, then claims it again, attempt unspent
    assert [(job.name, job.claim.attempt) for job in runner.batch] == [("j1", 1)]
