"""kill -9 of the supervisor: its workers record what they finish, start nothing more, and leave."""

from __future__ import annotations

import signal

import pytest

from gigq_client import Job
from tests import jobfuncs
from tests.conftest import wait_for
from tests.integration.daemon import (
    pids_in,
    teach_short_jobs,
    wait_status,
    wait_until_dead,
)

pytestmark = pytest.mark.both_stores


def _kill_supervisor(daemon) -> list[int]:
    workers = daemon.worker_pids()
    daemon.process.send_signal(signal.SIGKILL)
    daemon.process.wait(timeout=10)
    return workers


def test_orphaned_workers_finish_and_record_their_running_jobs_then_exit(make_daemon, tmp_path):
    daemon = make_daemon(workers=2).start()
    queue = daemon.queue()
    runs = tmp_path / "runs.txt"
    ids = [queue.submit(Job(f"long{i}", jobfuncs.record, params={"path": str(runs), "tag": str(i), "seconds": 2}))
           for i in range(2)]
    wait_for(lambda: len(pids_in(runs)) == 2, what="both jobs to start")
    workers = _kill_supervisor(daemon)
    wait_until_dead(workers, timeout=20)
    for job_id in ids:
        status = queue.get_status(job_id)
        assert (status["status"], [e["status"] for e in status["executions"]]) == ("completed", ["completed"])
    assert sorted(pids_in(runs)) == sorted(workers)  # each ran once, in the worker that held it
    daemon.start()
    assert daemon.events("job_requeued") == []  # the next supervisor finds nothing to recover


def test_an_orphaned_worker_starts_nothing_more_and_gives_back_what_it_held(make_daemon, tmp_path):
    daemon = make_daemon(workers=1).start()
    queue = daemon.queue()
    teach_short_jobs(queue)  # the next jobs are claimed in one batch
    runs = tmp_path / "runs.txt"
    slow = Job("slow", jobfuncs.record, params={"path": str(runs), "tag": "slow", "seconds": 2}, priority=10)
    quick = [Job(f"quick{i}", jobfuncs.record, params={"path": str(runs), "tag": f"q{i}"}) for i in range(5)]
    queue.submit_many([slow, *quick])
    wait_for(lambda: len(pids_in(runs)) == 1, what="the slow job to start")
    held = {job["id"] for job in queue.list_jobs(status="running")}
    assert held == {slow.id, *(job.id for job in quick)}  # the whole batch is claimed, one job started
    wait_until_dead(_kill_supervisor(daemon), timeout=20)
    assert queue.get_status(slow.id)["status"] == "completed"
    for job in quick:
        status = queue.get_status(job.id)
        assert (status["status"], status["attempts"], status["executions"]) == ("pending", 0, [])
    assert runs.read_text().split()[1::2] == ["slow"]  # nothing started after the supervisor died
    daemon.start()
    for job in quick:
        wait_status(queue, job.id, "completed")
    assert sorted(runs.read_text().split()[1::2]) == sorted(["slow", *(f"q{i}" for i in range(5))])


def test_an_orphaned_job_past_its_timeout_is_killed_with_its_processes(make_daemon, tmp_path):
    daemon = make_daemon(workers=1, heartbeat_interval=0.1).start()
    queue = daemon.queue()
    pid_file = tmp_path / "pids"
    job_id = queue.submit(Job("hang", jobfuncs.spawn_and_hang, params={"pid_file": str(pid_file)}, timeout=3,
                              max_attempts=1))
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), what="the job's processes to start")
    descendants = [int(pid) for pid in pid_file.read_text().split()]
    workers = _kill_supervisor(daemon)
    wait_until_dead(workers + descendants, timeout=20)  # the worker enforced the timeout itself
    assert queue.get_status(job_id)["status"] == "running"  # nobody could record it
    daemon.start()
    status = wait_status(queue, job_id, "failed", timeout=40)
    assert "no longer running" in status["executions"][0]["error"]


def test_idle_workers_exit_at_once_when_their_supervisor_dies(make_daemon):
    daemon = make_daemon(workers=2).start()
    wait_until_dead(_kill_supervisor(daemon), timeout=10)


@pytest.mark.parametrize("mode, first_seen_as", [("per_job", "completed"), ("batched", "running")])
def test_each_outcome_is_committed_before_the_next_job_starts_unless_batched(make_daemon, mode, first_seen_as):
    daemon = make_daemon(workers=1, record_outcomes=mode).start()
    queue = daemon.queue()
    teach_short_jobs(queue)  # the next jobs are claimed in one batch
    first = Job("first", jobfuncs.noop, priority=1)
    second = Job("second", jobfuncs.status_of, params={"db": daemon.db, "job_id": first.id})
    queue.submit_many([first, second])
    assert wait_status(queue, second.id, "completed")["result"] == first_seen_as
