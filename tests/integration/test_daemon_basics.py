"""What a user sees of a running daemon: fast wake-up, titles, structured logs, workflows."""

from __future__ import annotations

import time

import psutil
import pytest

from gigq_client import Job, Workflow
from tests import jobfuncs
from tests.conftest import wait_for
from tests.integration.daemon import wait_status

pytestmark = pytest.mark.both_stores


def test_submit_wakes_an_idle_pool_without_waiting_for_a_poll(make_daemon):
    daemon = make_daemon(workers=2, poll_interval=60.0).start()
    queue = daemon.queue()
    wait_for(lambda: len(daemon.events("worker_booted")) == 2, what="workers to boot")
    time.sleep(0.2)  # let both workers settle into their 60 s idle wait
    job_id = queue.submit(Job("quick", jobfuncs.add, params={"a": 1, "b": 2}))
    assert wait_status(queue, job_id, "completed", timeout=20)["result"] == 3  # a poll would take 60 s


def _title(process: psutil.Process) -> str:
    return " ".join(process.cmdline()).strip()


def test_process_titles_say_what_each_process_does(make_daemon, tmp_path):
    daemon = make_daemon(workers=1).start()
    name = daemon.db.rsplit("/", 1)[-1]  # jobs.db, or the PostgreSQL database's name
    assert _title(psutil.Process(daemon.process.pid)) == f"gigqd: supervisor [{name}] 1 workers"
    worker = psutil.Process(daemon.worker_pids()[0])
    wait_for(lambda: _title(worker) == "gigqd: worker 1 idle", what="idle title")
    queue = daemon.queue()
    job_id = queue.submit(Job("resize", jobfuncs.sleep, params={"seconds": 3}))
    title = wait_for(lambda: "running" in _title(worker) and _title(worker), what="busy title")
    assert title.startswith(f"gigqd: worker 1 running resize (job {job_id[:4]}…, ")


def test_logs_are_json_events_with_job_worker_and_pid(make_daemon):
    daemon = make_daemon(workers=1).start()
    queue = daemon.queue()
    job_id = queue.submit(Job("failing", jobfuncs.fail, params={"message": "bad input"}, max_attempts=1))
    wait_status(queue, job_id, "failed")
    (failed,) = daemon.wait_event("job_failed")
    assert failed["job_id"] == job_id and failed["worker_id"] and failed["pid"] in daemon.worker_pids()
    assert "bad input" in failed["error"] and failed["level"] == "warning" and "timestamp" in failed


def test_workflow_runs_in_order_and_passes_parent_results(make_daemon):
    daemon = make_daemon(workers=2).start()
    queue = daemon.queue()
    flow = Workflow("sums")
    a = flow.add_job(Job("a", jobfuncs.add, params={"a": 1, "b": 1}))
    b = flow.add_job(Job("b", jobfuncs.add, params={"a": 2, "b": 2}))
    total = flow.add_job(Job("total", jobfuncs.combine), depends_on=[a, b])
    flow.submit_all(queue)
    assert wait_status(queue, total.id, "completed")["result"] == [2, 4]


def test_failing_dependency_cancels_what_waits_on_it(make_daemon):
    daemon = make_daemon(workers=2).start()
    queue = daemon.queue()
    flow = Workflow("doomed")
    root = flow.add_job(Job("root", jobfuncs.fail, max_attempts=2))
    child = flow.add_job(Job("child", jobfuncs.noop), depends_on=[root])
    flow.submit_all(queue)
    status = wait_status(queue, child.id, "cancelled")
    assert root.id in status["error"]
    assert queue.get_status(root.id)["attempts"] == 2


def test_unknown_function_fails_at_once_with_a_clear_error(make_daemon):
    daemon = make_daemon(workers=1).start()
    queue = daemon.queue()
    job_id = queue.submit(Job("ghost", "no_such_module:nothing", max_attempts=3))
    status = wait_status(queue, job_id, "failed")
    assert "cannot import no_such_module:nothing" in status["error"] and status["attempts"] == 1


def test_daemon_serves_only_its_queues(make_daemon):
    daemon = make_daemon(workers=1, queues=["images"]).start()
    queue = daemon.queue()
    image = queue.submit(Job("img", jobfuncs.noop, queue="images"))
    mail = queue.submit(Job("mail", jobfuncs.noop, queue="mail"))
    wait_status(queue, image, "completed")
    assert queue.get_status(mail)["status"] == "pending"
