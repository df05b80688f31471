"""Workers that cannot start back off instead of looping; workers that grow are recycled."""

from __future__ import annotations

from gigq_client import Job
from tests import jobfuncs
from tests.conftest import wait_for
from tests.integration.daemon import wait_status


def test_worker_that_fails_to_import_at_start_is_respawned_with_backoff(make_daemon):
    daemon = make_daemon(workers=1, imports=["no_such_module_anywhere"], restart_backoff_max=2.0).start(wait=False)
    delays = [e["seconds"] for e in daemon.wait_event("worker_respawn_delayed", count=4, timeout=30)]
    failures = daemon.events("worker_boot_failed")
    assert "no_such_module_anywhere" in failures[0]["error"]
    assert delays[:4] == [0.5, 1.0, 2.0, 2.0]
    spawned = daemon.events("worker_spawned")
    assert len(spawned) <= len(failures) + 1  # no tight loop


def test_worker_over_its_memory_limit_is_recycled_between_jobs(make_daemon):
    daemon = make_daemon(workers=1, max_memory_per_worker=150).start()
    queue = daemon.queue()
    first = daemon.worker_pids()[0]
    job_id = queue.submit(Job("hog", jobfuncs.hog_memory, params={"megabytes": 200}))
    assert wait_status(queue, job_id, "completed")["result"] == 200
    daemon.wait_event("worker_recycled")
    wait_for(lambda: daemon.worker_pids() and daemon.worker_pids()[0] != first, what="a fresh worker")
    assert wait_status(queue, queue.submit(Job("next", jobfuncs.noop)), "completed")


def test_worker_is_replaced_after_max_jobs(make_daemon):
    daemon = make_daemon(workers=1, max_jobs_per_worker=3).start()
    queue = daemon.queue()
    ids = [queue.submit(Job(f"j{i}", jobfuncs.pid)) for i in range(6)]
    pids = [wait_status(queue, job_id, "completed")["result"] for job_id in ids]
    assert len(set(pids)) == 2 and pids[:3] == [pids[0]] * 3
