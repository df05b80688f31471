"""Signals as gunicorn and Celery users expect: TERM drains, QUIT stops now, HUP reloads, TTIN/TTOU scale."""

from __future__ import annotations

import signal
import time

import pytest

from gigq_client import Job
from tests import jobfuncs
from tests.conftest import wait_for
from tests.integration.daemon import pids_in, wait_status

pytestmark = pytest.mark.both_stores


def test_term_lets_running_jobs_finish_claims_nothing_new_and_exits_0(make_daemon, tmp_path):
    daemon = make_daemon(workers=1, graceful_timeout=30).start()
    queue = daemon.queue()
    runs = tmp_path / "runs.txt"
    running = queue.submit(Job("finishing", jobfuncs.record, params={"path": str(runs), "seconds": 1.5}))
    wait_for(lambda: pids_in(runs), what="the job to start")
    waiting = queue.submit(Job("waiting", jobfuncs.noop))
    daemon.signal(signal.SIGTERM)
    assert daemon.process.wait(timeout=30) == 0
    assert queue.get_status(running)["status"] == "completed"
    assert queue.get_status(waiting)["status"] == "pending"
    assert queue.store.daemons() == []


def test_term_past_graceful_timeout_releases_the_job_without_spending_an_attempt(make_daemon):
    daemon = make_daemon(workers=1, graceful_timeout=0.5).start()
    queue = daemon.queue()
    job_id = queue.submit(Job("endless", jobfuncs.hang, max_attempts=1))
    wait_status(queue, job_id, "running")
    wait_for(lambda: daemon.events("job_claimed"), what="the claim")
    daemon.signal(signal.SIGTERM)
    assert daemon.process.wait(timeout=30) == 0
    status = queue.get_status(job_id)
    assert (status["status"], status["attempts"]) == ("pending", 0)
    assert status["executions"][-1]["status"] == "interrupted"


def test_quit_stops_at_once_and_releases_running_jobs(make_daemon):
    daemon = make_daemon(workers=1, graceful_timeout=60).start()
    queue = daemon.queue()
    job_id = queue.submit(Job("endless", jobfuncs.hang, max_attempts=1))
    wait_status(queue, job_id, "running")
    started = time.monotonic()
    daemon.signal(signal.SIGQUIT)
    assert daemon.process.wait(timeout=30) == 0
    assert time.monotonic() - started < 30
    assert queue.get_status(job_id)["status"] == "pending"


def test_ttin_and_ttou_grow_and_shrink_the_pool(make_daemon):
    daemon = make_daemon(workers=1).start()
    daemon.signal(signal.SIGTTIN)
    daemon.wait_event("pool_scaled", workers=2)  # the same signal twice at once arrives once
    daemon.signal(signal.SIGTTIN)
    wait_for(lambda: len(daemon.worker_pids()) == 3, what="3 workers")
    daemon.signal(signal.SIGTTOU)
    wait_for(lambda: len(daemon.worker_pids()) == 2, what="2 workers")
    daemon.wait_event("pool_scaled", count=3)


def test_hup_reloads_config_and_new_job_code_without_losing_a_job(make_daemon, tmp_path):
    module = tmp_path / "reloadable.py"
    module.write_text("def which():\n    return 'old'\n")
    daemon = make_daemon(workers=2).start()
    queue = daemon.queue()
    runs = tmp_path / "runs.txt"
    assert wait_status(queue, queue.submit(Job("which", "reloadable:which")), "completed")["result"] == "old"
    long_job = queue.submit(Job("long", jobfuncs.record, params={"path": str(runs), "seconds": 2}))
    wait_for(lambda: pids_in(runs), what="the long job to start")
    module.write_text("def which():\n    return 'new'\n")
    daemon.write_config(workers=3)
    old_workers = set(daemon.worker_pids())
    daemon.signal(signal.SIGHUP)
    daemon.wait_event("config_reloaded")
    wait_for(lambda: len(set(daemon.worker_pids()) & old_workers) == 0 and len(daemon.worker_pids()) == 3,
             timeout=30, what="every worker to be replaced, 3 in all")
    status = wait_status(queue, long_job, "completed")
    assert status["attempts"] == 1 and len(pids_in(runs)) == 1  # finished once, by its original worker
    assert wait_status(queue, queue.submit(Job("which", "reloadable:which")), "completed")["result"] == "new"


def test_hup_with_a_broken_config_keeps_running_on_the_old_one(make_daemon):
    daemon = make_daemon(workers=1).start()
    daemon.config_path.write_text("workers = 'many'\n")
    daemon.signal(signal.SIGHUP)
    daemon.wait_event("config_reload_failed")
    queue = daemon.queue()
    job_id = queue.submit(Job("ok", jobfuncs.add, params={"a": 1, "b": 1}))
    assert wait_status(queue, job_id, "completed")["result"] == 2
