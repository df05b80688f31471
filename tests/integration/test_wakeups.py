"""On SQLite a submit rings the daemon's idle workers directly: the supervisor is not a hop
between a submit and the job's start, and while every worker is busy a ring wakes nobody."""

from __future__ import annotations

import os
import signal

import psutil

from gigq_client import Job
from tests import jobfuncs
from tests.conftest import wait_for
from tests.integration.daemon import pids_in, wait_status

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


def _waiting_in_poll(pid: int) -> bool:
    """The worker's main thread sleeps in poll(): it is idle, between claims."""
    with open(f"/proc/{pid}/wchan") as handle:
        return "poll" in handle.read()


def test_a_ring_for_more_jobs_than_its_drainer_takes_reaches_an_idle_sibling(make_daemon, tmp_path):
    daemon = make_daemon(workers=2, poll_interval=60.0).start()
    queue = daemon.queue()
    wait_for(lambda: len(daemon.events("worker_booted")) == 2, what="workers to boot")
    first, second = daemon.worker_pids()
    wait_for(lambda: _waiting_in_poll(first) and _waiting_in_poll(second), what="both workers to wait")
    # A stopped worker hears no ring, like one a busy machine left between its empty claim
    # and its wait: the other drains the ring and claims one job (a new worker claims one
    # long job at a time). Unless it rings again, the second job waits for a poll (60 s)
    # or for the first job to end, while a worker is idle.
    os.kill(second, signal.SIGSTOP)
    runs = tmp_path / "runs.txt"
    try:
        jobs = [Job(f"long{i}", jobfuncs.record, params={"path": str(runs), "tag": str(i), "seconds": 3})
                for i in range(2)]
        queue.submit_many(jobs)  # one transaction, one ring
        wait_for(lambda: len(pids_in(runs)) == 1, what="a job to start")
        assert pids_in(runs) == [first]
    finally:
        os.kill(second, signal.SIGCONT)
    wait_for(lambda: len(pids_in(runs)) == 2, timeout=20, what="the second job to start")
    assert pids_in(runs) == [first, second]  # the second started while the first still ran
    for job in jobs:
        wait_status(queue, job.id, "completed", timeout=20)
