"""A job that runs past its timeout is stopped, with every process it started, before it runs again."""

from __future__ import annotations

import pytest

from gigq_client import Job, liveness
from tests import jobfuncs
from tests.conftest import wait_for
from tests.integration.daemon import pids_in, wait_status, wait_until_dead

pytestmark = pytest.mark.both_stores


def test_hung_job_and_its_children_are_killed_at_the_timeout(make_daemon, tmp_path):
    daemon = make_daemon(workers=1).start()
    queue = daemon.queue()
    pid_file = tmp_path / "children.txt"
    job_id = queue.submit(Job("stuck", jobfuncs.spawn_and_hang, params={"pid_file": str(pid_file)},
                              timeout=1.5, max_attempts=1))
    child, grandchild = wait_for(lambda: pid_file.exists() and pid_file.read_text().split(), what="job's children")
    status = wait_status(queue, job_id, "timeout", timeout=30)
    assert "timeout" in status["error"].lower()
    assert status["executions"][0]["status"] == "timeout"
    wait_until_dead([int(child), int(grandchild)])
    daemon.wait_event("job_killed", job_id=job_id)


def test_timed_out_job_is_retried_while_attempts_remain_and_never_overlaps(make_daemon, tmp_path):
    daemon = make_daemon(workers=2).start()
    queue = daemon.queue()
    runs = tmp_path / "runs.txt"
    job_id = queue.submit(Job("slow", jobfuncs.record, params={"path": str(runs), "seconds": 30},
                              timeout=1, max_attempts=2))
    status = wait_status(queue, job_id, "timeout", timeout=40)
    assert [e["status"] for e in status["executions"]] == ["timeout", "timeout"]
    first, second = pids_in(runs)
    assert first != second
    assert status["attempts"] == 2


def test_job_ignoring_sigterm_is_killed_after_the_grace(make_daemon):
    daemon = make_daemon(workers=1, kill_grace=0.5).start()
    queue = daemon.queue()
    job_id = queue.submit(Job("stubborn", jobfuncs.ignore_term_and_hang, timeout=1, max_attempts=1))
    wait_status(queue, job_id, "timeout", timeout=30)
    daemon.wait_event("worker_killed", signal="SIGKILL")
    wait_for(lambda: len(daemon.worker_pids()) == 1, what="a replacement worker")


def test_worker_replaced_after_a_timeout_runs_the_next_job(make_daemon):
    daemon = make_daemon(workers=1).start()
    queue = daemon.queue()
    old_worker = daemon.worker_pids()[0]
    queue.submit(Job("stuck", jobfuncs.hang, timeout=1, max_attempts=1))
    after = queue.submit(Job("after", jobfuncs.add, params={"a": 2, "b": 3}))
    assert wait_status(queue, after, "completed", timeout=30)["result"] == 5
    assert old_worker not in daemon.worker_pids()
    assert not liveness.alive(old_worker, None)  # gone, or a zombie
