"""kill -9 of the supervisor: its workers leave promptly, and a restart recovers every running job."""

from __future__ import annotations

import signal

import psutil

from gigq_client import Job
from tests import jobfuncs
from tests.conftest import wait_for
from tests.integration.daemon import pids_in, wait_status, wait_until_dead


def test_restart_after_kill_9_recovers_every_running_job(make_daemon, tmp_path):
    daemon = make_daemon(workers=2).start()
    queue = daemon.queue()
    runs = tmp_path / "runs.txt"
    ids = [queue.submit(Job(f"long{i}", jobfuncs.record, params={"path": str(runs), "tag": str(i), "seconds": 3}))
           for i in range(2)]
    wait_for(lambda: len(pids_in(runs)) == 2, what="both jobs to start")
    workers = daemon.worker_pids()
    daemon.process.send_signal(signal.SIGKILL)
    daemon.process.wait(timeout=10)
    wait_until_dead(workers, timeout=10)  # orphaned workers notice and exit, killing their jobs
    assert all(queue.get_status(job_id)["status"] == "running" for job_id in ids)
    daemon.start()
    for job_id in ids:
        status = wait_status(queue, job_id, "completed", timeout=40)
        assert [e["status"] for e in status["executions"]] == ["failed", "completed"]
        assert "no longer running" in status["executions"][0]["error"]
    daemon.wait_event("orphans_requeued")


def test_idle_workers_exit_when_their_supervisor_dies(make_daemon):
    daemon = make_daemon(workers=2).start()
    workers = daemon.worker_pids()
    daemon.process.send_signal(signal.SIGKILL)
    daemon.process.wait(timeout=10)
    wait_until_dead(workers, timeout=10)
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in workers)
