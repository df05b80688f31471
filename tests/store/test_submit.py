"""Store contract: a job reads back as it was submitted, alone or in a batch, whatever its text holds."""

from __future__ import annotations

import json
import time

import pytest

from tests.store.helpers import new_job

AWKWARD = "tab\there, line\nbreak, return\r, back\\slash, \\N, quote \" and ünïcode ✓"


def _awkward_jobs() -> list:
    later = time.time() + 3600
    return [
        new_job(AWKWARD, description=AWKWARD, params=json.dumps({"text": AWKWARD}, ensure_ascii=False),
                queue="q\tueue", priority=-3, timeout=2.5, retry_delay=0.25, pass_parent_results=False),
        new_job("plain", pass_parent_results=True, run_at=later),
        new_job("nothing", description=None),
    ]


@pytest.mark.parametrize("batch", [True, False], ids=["in one batch", "one by one"])
def test_a_submitted_job_reads_back_as_given(store, batch):
    jobs = _awkward_jobs()
    if batch:
        store.enqueue(jobs)
    else:
        for job in jobs:
            store.enqueue([job])
    for job in jobs:
        row = store.get_job(job.id)
        assert (row["name"], row["description"], row["params"], row["queue"]) == (
            job.name, job.description, json.loads(job.params), job.queue)
        assert (row["priority"], row["timeout"], row["retry_delay"], row["pass_parent_results"]) == (
            job.priority, job.timeout, job.retry_delay, job.pass_parent_results)
        assert (row["run_at"] is None) == (job.run_at is None) and row["status"] == "pending"
    assert [j.name for j in store.claim("w", ["q\tueue"], 5)] == [AWKWARD]


def test_jobs_of_a_status_are_listed_newest_first_whether_recent_or_long_ago(store):
    jobs = [new_job(f"j{i}", queue="q" if i % 2 else "default") for i in range(2_100)]
    store.enqueue(jobs)
    for job in jobs[:3]:  # cancelled long ago: none among the newest 2,000 jobs
        assert store.cancel(job.id)
    newest_pending = [j["name"] for j in store.list_jobs("pending", 3, None)]
    assert newest_pending == ["j2099", "j2098", "j2097"]
    assert [j["name"] for j in store.list_jobs("pending", 2, "default")] == ["j2098", "j2096"]
    assert [j["name"] for j in store.list_jobs("cancelled", 2, None)] == ["j2", "j1"]
    assert [j["name"] for j in store.list_jobs("cancelled", 5, "default")] == ["j2", "j0"]
    assert store.list_jobs("failed", 5, None) == []
    claimed = store.claim("w", ["default"], 2)  # the oldest two pending in that queue
    assert [j.name for j in claimed] == ["j4", "j6"]
    assert [j["name"] for j in store.list_jobs("running", 5, None)] == ["j6", "j4"]
