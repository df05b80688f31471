"""A worker claims short jobs in batches; a job that turns out long must not hold the rest."""

from __future__ import annotations

import pytest

from gigq_client import Job
from tests import jobfuncs
from tests.conftest import wait_for
from tests.integration.daemon import status_of, teach_short_jobs

pytestmark = pytest.mark.both_stores


def test_jobs_claimed_behind_a_long_job_run_on_another_worker_meanwhile(make_daemon):
    # At most 4 per claim, so that a learned worker cannot take a whole round of warm-up jobs alone.
    daemon = make_daemon(workers=2, claim_batch=4).start()
    queue = daemon.queue()
    teach_short_jobs(queue, workers=2)  # both workers now claim several jobs at once
    long_job = Job("long", jobfuncs.sleep, params={"seconds": 20}, priority=10)  # first in any batch
    short = [Job(f"short{i}", jobfuncs.noop) for i in range(12)]
    long_id, *short_ids = queue.submit_many([long_job, *short])
    wait_for(lambda: all(status_of(queue, job_id) == "completed" for job_id in short_ids), timeout=15,
             what="every short job to complete")
    assert status_of(queue, long_id) == "running"  # they did not wait for it
    released = daemon.events("job_released")
    assert released and all("held behind" in event["reason"] for event in released)
    for job_id in short_ids:
        assert [e["status"] for e in queue.get_status(job_id)["executions"]] == ["completed"]  # ran once
    queue.cancel_running(long_id)  # so that the daemon stops at once
