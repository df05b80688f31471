"""Jobs that misbehave: each ends with a clear error, and the daemon and other jobs go on."""

from __future__ import annotations

import pytest

from gigq_client import Job
from tests import jobfuncs
from tests.conftest import wait_for
from tests.integration.daemon import wait_status, wait_until_dead


@pytest.fixture
def daemon(make_daemon):
    return make_daemon(workers=1, max_result_bytes=1_000_000).start()


def _after_it_a_normal_job_runs(daemon):
    queue = daemon.queue()
    job_id = queue.submit(Job("next", jobfuncs.add, params={"a": 20, "b": 22}))
    assert wait_status(queue, job_id, "completed")["result"] == 42


@pytest.mark.parametrize(
    "function, words",
    [
        (jobfuncs.raise_keyboard_interrupt, "KeyboardInterrupt"),
        (jobfuncs.raise_base_exception, "Custom: not an Exception"),
        (jobfuncs.exit_job, "sys.exit(3)"),
    ],
)
def test_base_exceptions_fail_the_job_and_are_retried(daemon, function, words):
    queue = daemon.queue()
    status = wait_status(queue, queue.submit(Job("bad", function, max_attempts=2)), "failed")
    assert words in status["error"] and status["attempts"] == 2
    _after_it_a_normal_job_runs(daemon)


def test_segfault_kills_only_the_worker_and_the_job_is_retried(daemon):
    queue = daemon.queue()
    status = wait_status(queue, queue.submit(Job("crash", jobfuncs.segfault, max_attempts=2)), "failed")
    assert "SIGSEGV" in status["error"] and status["attempts"] == 2
    _after_it_a_normal_job_runs(daemon)


def test_result_that_is_not_json_fails_at_once_without_retry(daemon):
    queue = daemon.queue()
    for function in (jobfuncs.not_json, jobfuncs.looped_result):
        status = wait_status(queue, queue.submit(Job("odd", function, max_attempts=3)), "failed")
        assert "not JSON-serializable" in status["error"] and status["attempts"] == 1
    _after_it_a_normal_job_runs(daemon)


def test_huge_result_is_refused_by_the_configured_cap(daemon):
    queue = daemon.queue()
    status = wait_status(queue, queue.submit(Job("big", jobfuncs.huge_result, params={"megabytes": 3})), "failed")
    assert "max_result_bytes" in status["error"] and status["attempts"] == 1
    _after_it_a_normal_job_runs(daemon)


def test_closing_stdout_and_stderr_does_not_silence_or_break_the_worker(daemon):
    queue = daemon.queue()
    assert wait_status(queue, queue.submit(Job("closer", jobfuncs.close_streams)), "completed")["result"] == "closed"
    failing = queue.submit(Job("then-fails", jobfuncs.fail, params={"message": "still logged"}, max_attempts=1))
    wait_status(queue, failing, "failed")
    daemon.wait_event("job_failed", job_id=failing)  # the worker still logs
    _after_it_a_normal_job_runs(daemon)


def test_redirecting_stdout_and_stderr_is_undone_after_the_job(daemon, tmp_path):
    queue = daemon.queue()
    sink = tmp_path / "sink.txt"
    redirecting = queue.submit(Job("redirect", jobfuncs.redirect_streams, params={"path": str(sink)}))
    wait_status(queue, redirecting, "completed")
    failing = queue.submit(Job("then-fails", jobfuncs.fail, params={"message": "goes to the log"}, max_attempts=1))
    wait_status(queue, failing, "failed")
    daemon.wait_event("job_failed", job_id=failing)
    assert "goes to the log" not in sink.read_text()


def test_child_left_running_by_a_job_is_killed_when_the_job_ends(daemon, tmp_path):
    queue = daemon.queue()
    pid_file = tmp_path / "child.pid"
    wait_status(queue, queue.submit(Job("leaves", jobfuncs.forks_and_returns, params={"pid_file": str(pid_file)})),
                "completed")
    wait_until_dead([int(pid_file.read_text())])


def test_grandchild_that_escaped_by_double_forking_is_killed(daemon, tmp_path):
    queue = daemon.queue()
    pid_file = tmp_path / "escaped.pid"
    wait_status(queue, queue.submit(Job("escapes", jobfuncs.double_fork, params={"pid_file": str(pid_file)})),
                "completed")
    escaped = int(wait_for(lambda: pid_file.exists() and pid_file.read_text(), what="the escapee's pid"))
    wait_until_dead([escaped], timeout=15)
    daemon.wait_event("orphan_process_killed", stray_pid=escaped)
