"""gigqctl drives a real daemon: start, status, scale, reload, cancel, stop."""

from __future__ import annotations

import json
import os
import socket
import stat

import psutil
import pytest

from gigq_client import JobQueue, liveness
from tests.conftest import wait_for
from tests.forked import drop_to_nobody, in_child
from tests.integration.ctl import ctl, job_id_from

TASKS = """
import time

def slow(seconds):
    time.sleep(seconds)
    return seconds

def hello(name):
    return f"hello {name}"
"""


@pytest.fixture
def project(tmp_path):
    """A directory with a job module, as a newcomer would have; no PYTHONPATH for it."""
    (tmp_path / "tasks.py").write_text(TASKS)
    yield tmp_path
    ctl(tmp_path, "--db", "jobs.db", "stop", "--now", check=False)
    for process in psutil.process_iter(["cmdline", "cwd"]):
        try:
            if process.info["cwd"] == str(tmp_path) and "gigqd" in " ".join(process.info["cmdline"] or []):
                process.kill()
        except psutil.Error:
            pass


def status_of(folder, *job_id: str) -> dict:
    return json.loads(ctl(folder, "--db", "jobs.db", "status", *job_id, "--json").stdout)


def workers_in(folder) -> int:
    return len(status_of(folder)["workers"])


def worker_pids(folder) -> set[int]:
    return {w["pid"] for w in status_of(folder)["workers"]}


def test_a_tour_start_status_scale_reload_cancel_stop(project):
    started = ctl(project, "--db", "jobs.db", "start", "--workers", "2").stdout
    pid = int(started.split("pid ")[1].split()[0])
    status = ctl(project, "--db", "jobs.db", "status").stdout
    assert f"gigqd pid {pid}" in status and "idle" in status
    ctl(project, "--db", "jobs.db", "scale", "4")
    wait_for(lambda: workers_in(project) == 4, what="4 workers")
    ctl(project, "--db", "jobs.db", "scale", "1")
    wait_for(lambda: workers_in(project) == 1, what="1 worker")
    before = worker_pids(project)
    assert "reloading" in ctl(project, "--db", "jobs.db", "reload").stdout
    wait_for(lambda: worker_pids(project).isdisjoint(before), what="the worker to be replaced")
    submitted = ctl(project, "--db", "jobs.db", "submit", "tasks.slow", "--name", "slow", "-p", "seconds=60")
    job_id = job_id_from(submitted.stdout)
    wait_for(lambda: status_of(project, job_id)["status"] == "running")
    assert "cancelled" in ctl(project, "--db", "jobs.db", "cancel", job_id).stdout
    shown = status_of(project, job_id)
    assert shown["status"] == "cancelled" and shown["executions"][0]["status"] == "cancelled"
    assert f"gigqd (pid {pid}) stopped" in ctl(project, "--db", "jobs.db", "stop").stdout
    assert not liveness.alive(pid, None)  # gone, or a zombie


def test_a_second_start_on_the_same_database_is_refused(project):
    ctl(project, "--db", "jobs.db", "start", "--workers", "1")
    second = ctl(project, "--db", "jobs.db", "start", check=False)
    assert second.returncode == 1 and "already running" in second.stderr and len(second.stderr.splitlines()) == 1


def test_start_reports_the_daemons_own_error(project):
    (project / "jobs.db").write_text("not a database")
    result = ctl(project, "--db", "jobs.db", "start", check=False)
    assert result.returncode == 1 and "not a SQLite database" in result.stderr


def test_daemon_commands_name_a_database_they_cannot_read_rather_than_a_daemon_to_start(project):
    (project / "jobs.db").write_text("not a database")
    for command in (["status"], ["stop"], ["reload"]):
        result = ctl(project, "--db", "jobs.db", *command, check=False)
        assert result.returncode == 1 and "not a SQLite database" in result.stderr, (command, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1


def test_daemon_commands_without_a_daemon_fail_with_one_line(project):
    for command in (["status"], ["stop"], ["scale", "2"], ["reload"]):
        result = ctl(project, "--db", "jobs.db", *command, check=False)
        assert result.returncode == 1 and result.stderr.startswith("gigqctl: no gigqd is running"), command
        assert len(result.stderr.strip().splitlines()) == 1


def test_socket_is_private_and_strangers_are_refused_with_a_clear_line(project):
    ctl(project, "--db", "jobs.db", "start", "--workers", "1")
    path = str(project / "jobs.db.sock")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    if os.geteuid() == 0:  # root ignores file modes: ask as an unprivileged user
        message = _call_as_nobody(path)
    else:
        os.chmod(path, 0)
        message = ctl(project, "--socket", path, "status", check=False).stderr
    assert "permission denied on control socket" in message


def _call_as_nobody(path: str) -> str:
    """The client call gigqctl makes, from a forked child that dropped to uid nobody."""
    from gigqd.control import client

    def call() -> str:
        drop_to_nobody()
        client.call(path, "status")
        return "connected, which it should not have"

    return in_child(call)


def test_bad_requests_get_error_replies_and_the_daemon_carries_on(project):
    ctl(project, "--db", "jobs.db", "start", "--workers", "1")
    path = str(project / "jobs.db.sock")
    replies = [_raw(path, b"this is not json\n"), _raw(path, b'{"no": "command"}\n'),
               _raw(path, b'{"command": "fly"}\n'), _raw(path, b'{"command": "scale", "workers": "lots"}\n'),
               _raw(path, b"x" * 200_000)]
    for reply in replies:
        assert reply["ok"] is False and reply["error"]
    assert "larger than" in replies[-1]["error"] and "unknown command" in replies[2]["error"]
    half = socket.socket(socket.AF_UNIX)
    half.connect(path)
    half.sendall(b'{"command": "sta')
    half.close()  # a client that leaves mid-request
    assert "idle" in ctl(project, "--db", "jobs.db", "status").stdout


def _raw(path: str, payload: bytes) -> dict:
    client = socket.socket(socket.AF_UNIX)
    client.settimeout(10)
    client.connect(path)
    client.sendall(payload)
    data = b""
    while not data.endswith(b"\n"):
        data += client.recv(65536)
    client.close()
    return json.loads(data)


def test_pause_and_resume_a_queue(project):
    ctl(project, "--db", "jobs.db", "start", "--workers", "1")
    ctl(project, "--db", "jobs.db", "pause", "mail")
    mail = job_id_from(
        ctl(project, "--db", "jobs.db", "submit", "tasks.hello", "-p", "name=a", "--queue", "mail").stdout)
    other = job_id_from(ctl(project, "--db", "jobs.db", "submit", "tasks.hello", "-p", "name=b").stdout)
    queue = JobQueue(str(project / "jobs.db"))
    assert queue.wait(other, timeout=30)["status"] == "completed"
    assert queue.get_status(mail)["status"] == "pending"
    assert "paused: mail" in ctl(project, "--db", "jobs.db", "status").stdout
    ctl(project, "--db", "jobs.db", "resume", "mail")
    assert queue.wait(mail, timeout=30)["result"] == "hello a"
