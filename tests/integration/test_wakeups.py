"""On SQLite a submit rings the daemon's idle workers directly: the supervisor is not a hop
between a submit and the job's start, and while every worker is busy a ring wakes nobody."""

from __future__ import annotations

import psutil

from gigq_client import Job
from tests import jobfuncs
from tests.conftest import wait_for
from tests.integration.daemon import wait_status

SUBMITS = 200


def _wakeups(pid: int) -> int:
    return psutil.Process(pid).num_ctx_switches().voluntary


def test_submits_to_busy_workers_wake_neither_the_supervisor_nor_them(make_daemon):
    daemon = make_daemon(workers=2, poll_interval=60.0).start()
    queue = daemon.queue()
    wait_for(lambda: len(daemon.events("worker_booted")) == 2, what="workers to boot")
    for n in range(2):  # one at a time: a worker may claim two jobs at once
        long_id = queue.submit(Job(f"long-{n}", jobfuncs.sleep, params={"seconds": 3}))
        wait_for(lambda j=long_id: queue.get_status(j)["status"] == "running", what=f"long job {n} to run")
    workers = daemon.worker_pids()
    before = [_wakeups(pid) for pid in [daemon.process.pid, *workers]]
    ids = [queue.submit(Job(f"quick-{n}", jobfuncs.add, params={"a": n, "b": 1})) for n in range(SUBMITS)]
    after = [_wakeups(pid) for pid in [daemon.process.pid, *workers]]
    woken = [b - a for a, b in zip(before, after)]
    # Before rings went to the workers, the supervisor woke for nearly every submit.
    assert woken[0] < SUBMITS // 10, f"the supervisor woke {woken[0]} times for {SUBMITS} submits"
    assert all(n < SUBMITS // 10 for n in woken[1:]), f"busy workers woke {woken[1:]} times"
    for n, job_id in enumerate(ids):  # the rings nobody heard cost nothing: the workers claim them next
        assert wait_status(queue, job_id, "completed", timeout=30)["result"] == n + 1


def test_each_submit_to_an_idle_pool_starts_its_job_without_the_supervisor(make_daemon):
    daemon = make_daemon(workers=2, poll_interval=60.0).start()
    queue = daemon.queue()
    wait_for(lambda: len(daemon.events("worker_booted")) == 2, what="workers to boot")
    before = _wakeups(daemon.process.pid)
    for n in range(50):  # one at a time, each waiting in an idle pool: a poll would take 60 s
        job_id = queue.submit(Job(f"quick-{n}", jobfuncs.add, params={"a": n, "b": 2}))
        assert wait_status(queue, job_id, "completed", timeout=20)["result"] == n + 2
    assert _wakeups(daemon.process.pid) - before < 25
