"""Worker.process_one(): one job run inside the caller's process, as GigQ 0.5.1 offered."""

from __future__ import annotations

from gigq_client import Job, JobQueue, Worker
from tests import jobfuncs


def test_process_one_runs_one_job(db_path):
    queue = JobQueue(db_path)
    first = queue.submit(Job("first", jobfuncs.add, params={"a": 1, "b": 2}))
    second = queue.submit(Job("second", jobfuncs.noop))
    worker = Worker(db_path)
    assert worker.process_one() is True
    assert queue.get_status(first)["status"] == "completed" and queue.get_status(second)["status"] == "pending"
    assert worker.process_one() is True and worker.process_one() is False
    worker.close()


def test_failures_are_retried_then_recorded(db_path):
    queue = JobQueue(db_path)
    job_id = queue.submit(Job("bad", jobfuncs.fail, params={"message": "nope"}, max_attempts=2))
    worker = Worker(db_path)
    assert worker.process_one() and worker.process_one()
    status = queue.get_status(job_id)
    assert (status["status"], status["attempts"]) == ("failed", 2) and "RuntimeError: nope" in status["error"]


def test_concurrency_must_be_positive(db_path):
    import pytest

    with pytest.raises(ValueError, match="concurrency"):
        Worker(db_path, concurrency=0)


def test_a_dead_workers_running_job_is_recovered_and_run(db_path):
    import socket
    import subprocess
    import time as clock

    from gigq_client.store import DaemonInfo

    queue = JobQueue(db_path)
    job_id = queue.submit(Job("orphaned", jobfuncs.add, params={"a": 1, "b": 1}))
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid that no longer runs
    now = clock.time()
    from gigq_client import liveness

    queue.store.register_daemon(DaemonInfo("dead", socket.gethostname(), gone.pid, 1.0, now, now,
                                           machine=liveness.machine()))  # on this machine: judged by its pid
    queue.store.register_worker("dead.1", "dead", socket.gethostname(), gone.pid, 1.0)
    queue.store.claim("dead.1", None, 1)
    assert Worker(db_path).process_one() is True
    status = queue.get_status(job_id)
    assert (status["status"], status["result"]) == ("completed", 2)
    assert "no longer running" in status["executions"][0]["error"]


def test_process_one_refuses_a_standard_library_function_unless_listed(db_path, tmp_path):
    queue, target = JobQueue(db_path), tmp_path / "ran"
    job_id = queue.submit(Job("hostile", "os:system", params={"command": f"touch {target}"}, max_attempts=3))
    assert Worker(db_path).process_one() is True
    status = queue.get_status(job_id)
    assert (status["status"], status["attempts"]) == ("failed", 1) and not target.exists()
    assert status["error"].startswith("os:system is not allowed") and "allowed_modules" in status["error"]
    listed = queue.submit(Job("listed", "os:system", params={"command": f"touch {target}"}))
    assert Worker(db_path, allowed_modules=["os"]).process_one() and queue.get_status(listed)["result"] == 0
    assert target.exists()
