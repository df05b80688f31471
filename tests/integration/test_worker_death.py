"""A worker that dies (kill -9, os._exit, sys.exit, hang) costs one attempt, never the job."""

from __future__ import annotations

import os
import signal

import pytest

from gigq_client import Job
from tests import jobfuncs
from tests.conftest import wait_for
from tests.integration.daemon import pids_in, teach_short_jobs, wait_status

pytestmark = pytest.mark.both_stores


def test_kill_9_of_a_worker_mid_job_reruns_the_job_once(make_daemon, tmp_path):
    daemon = make_daemon(workers=2).start()
    queue = daemon.queue()
    runs = tmp_path / "runs.txt"
    job_id = queue.submit(Job("victim", jobfuncs.record, params={"path": str(runs), "tag": "x", "seconds": 1.5}))
    first_pid = wait_for(lambda: pids_in(runs), what="the job to start")[0]
    os.kill(first_pid, signal.SIGKILL)
    status = wait_status(queue, job_id, "completed", timeout=30)
    assert len(pids_in(runs)) == 2 and pids_in(runs)[1] != first_pid
    assert [e["status"] for e in status["executions"]] == ["failed", "completed"]
    assert "SIGKILL" in status["executions"][0]["error"]
    assert status["attempts"] == 2
    daemon.wait_event("worker_died")
    wait_for(lambda: len(daemon.worker_pids()) == 2, what="the pool to be refilled")


def test_os_exit_in_a_job_spends_an_attempt_and_fails_when_none_remain(make_daemon, tmp_path):
    daemon = make_daemon(workers=1).start()
    queue = daemon.queue()
    runs = tmp_path / "runs.txt"
    job_id = queue.submit(Job("exits", jobfuncs.hard_exit, params={"path": str(runs)}, max_attempts=2))
    status = wait_status(queue, job_id, "failed", timeout=30)
    assert len(pids_in(runs)) == 2
    assert "exited with status 9" in status["error"]


def test_sys_exit_in_a_job_is_the_job_failing_not_the_worker(make_daemon):
    daemon = make_daemon(workers=1).start()
    queue = daemon.queue()
    worker = daemon.worker_pids()[0]
    job_id = queue.submit(Job("quits", jobfuncs.exit_job, params={"code": 3}, max_attempts=1))
    status = wait_status(queue, job_id, "failed", timeout=30)
    assert "sys.exit(3)" in status["error"]
    assert daemon.worker_pids() == [worker]


def test_stopped_worker_is_declared_hung_killed_and_its_job_retried(make_daemon, tmp_path):
    daemon = make_daemon(workers=1, heartbeat_timeout=1.0, heartbeat_interval=0.2).start()
    queue = daemon.queue()
    runs = tmp_path / "runs.txt"
    job_id = queue.submit(Job("frozen", jobfuncs.record, params={"path": str(runs), "seconds": 1}))
    first_pid = wait_for(lambda: pids_in(runs), what="the job to start")[0]
    os.kill(first_pid, signal.SIGSTOP)
    daemon.wait_event("worker_hung", timeout=30)
    status = wait_status(queue, job_id, "completed", timeout=30)
    assert "WorkerHung" in status["executions"][0]["error"]


def test_kill_9_of_a_worker_mid_batch_gives_back_the_jobs_it_never_started_unspent(make_daemon, tmp_path):
    daemon = make_daemon(workers=1).start()
    queue = daemon.queue()
    teach_short_jobs(queue)  # the next jobs are claimed in one batch
    runs = tmp_path / "runs.txt"
    slow = Job("slow", jobfuncs.record, params={"path": str(runs), "tag": "slow", "seconds": 5}, priority=10)
    quick = [Job(f"quick{i}", jobfuncs.noop) for i in range(5)]
    queue.submit_many([slow, *quick])
    victim = wait_for(lambda: pids_in(runs), what="the slow job to start")[0]
    assert {job["id"] for job in queue.list_jobs(status="running")} == {slow.id, *(job.id for job in quick)}
    os.kill(victim, signal.SIGKILL)
    for job in quick:
        status = wait_status(queue, job.id, "completed", timeout=30)
        assert (status["attempts"], [e["status"] for e in status["executions"]]) == (1, ["completed"])
    status = wait_status(queue, slow.id, "completed", timeout=30)
    assert [e["status"] for e in status["executions"]] == ["failed", "completed"]


@pytest.mark.parametrize("limit", ["heartbeat", "timeout"])
def test_a_stopped_worker_dies_at_its_limit_not_after_kill_grace(make_daemon, tmp_path, limit):
    # kill_grace is far longer than the test waits: the worker must die of the TERM
    # sent with a CONT, not of the SIGKILL that would follow a minute later.
    daemon = make_daemon(workers=1, heartbeat_timeout=1.0 if limit == "heartbeat" else 60.0, heartbeat_interval=0.2,
                         kill_grace=60.0, lease=200.0).start()  # on PostgreSQL the lease must outlast the kill
    queue = daemon.queue()
    runs = tmp_path / "runs.txt"
    seconds, timeout = (30, 300) if limit == "heartbeat" else (30, 1.5)
    job_id = queue.submit(Job("frozen", jobfuncs.record, params={"path": str(runs), "seconds": seconds},
                              timeout=timeout, max_attempts=1))
    worker = wait_for(lambda: pids_in(runs), what="the job to start")[0]
    os.kill(worker, signal.SIGSTOP)
    died = daemon.wait_event("worker_died", timeout=20, worker_pid=worker)[0]
    assert died["exit"] == "killed by SIGTERM"
    assert not [e for e in daemon.events("worker_killed") if e.get("signal") == "SIGKILL"]
    status = wait_status(queue, job_id, "failed" if limit == "heartbeat" else "timeout", timeout=20)
    assert ("WorkerHung" if limit == "heartbeat" else "Timeout") in status["error"]
