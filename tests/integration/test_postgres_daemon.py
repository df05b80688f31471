"""gigqd, gigqctl and JobQueue on a PostgreSQL URL: the same commands, one clear line when it goes wrong.

The daemon tests that matter most (kill -9 of a worker and of the supervisor, timeouts,
graceful and fast stops, reloads) run on PostgreSQL too: their modules are marked
both_stores (see conftest.py). This module holds what only a URL brings.
"""

from __future__ import annotations

import json
import subprocess
import sys

import psutil
import pytest

from gigq_client import DatabaseNotFound, DatabaseUnavailable, Job, JobQueue, liveness
from tests import jobfuncs
from tests.conftest import ROOT, wait_for
from tests.integration.conftest import TEST_MODULES
from tests.integration.ctl import ctl, job_id_from
from tests.integration.daemon import Daemon, cmdline, wait_status

SECRET = "s3cret-never-shown"
TASKS = "def hello(name):\n    return f'hello {name}'\n"


def with_password(url: str) -> str:
    """The same URL with a password in it (the test server trusts local connections, so it is ignored)."""
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user}:{SECRET}@{host}"


def test_gigqctl_runs_a_daemon_on_a_url_and_never_shows_its_password(postgres_url, tmp_path):
    (tmp_path / "tasks.py").write_text(TASKS)
    env = {"GIGQ_DB": with_password(postgres_url), "GIGQD_ALLOWED_MODULES": "tasks"}
    try:
        started = ctl(tmp_path, "start", "--workers", "2", env=env)
        job_id = job_id_from(ctl(tmp_path, "submit", "tasks.hello", "--param", "name=pg", env=env).stdout)
        waited = ctl(tmp_path, "wait", job_id, "--timeout", "30", env=env)
        status = ctl(tmp_path, "status", env=env)
        titles = [" ".join(p.cmdline()) for p in psutil.process_iter() if "gigqd" in " ".join(cmdline(p))]
        logs = "".join(path.read_text() for path in _logs_of(started.stdout))
    finally:
        stopped = ctl(tmp_path, "stop", env=env, check=False)
    assert "hello pg" in waited.stdout and "completed" in waited.stdout
    assert "workers" in status.stdout and "completed" in status.stdout
    assert stopped.returncode == 0, stopped.stderr
    shown = [started.stdout, started.stderr, waited.stdout, status.stdout, stopped.stdout, logs, *titles]
    assert titles and logs and not [text for text in shown if SECRET in text]


@pytest.mark.parametrize("problem", ["closed port", "missing database"])
def test_a_url_that_cannot_be_used_gives_one_line_from_gigqd_gigqctl_and_jobqueue(postgres_url, free_port, tmp_path,
                                                                               problem):
    user_host, _ = postgres_url.rsplit("/", 1)
    url = (f"postgresql://gigq@127.0.0.1:{free_port}/jobs" if problem == "closed port"
           else f"{user_host}/no_such_database")
    expected = DatabaseUnavailable if problem == "closed port" else DatabaseNotFound
    named = "Connection refused" if problem == "closed port" else 'database "no_such_database" does not exist'
    with pytest.raises(expected, match="postgresql://") as raised:
        JobQueue(url)
    assert named in str(raised.value)
    environment = {"GIGQD_ALLOWED_MODULES": "tasks", "PYTHONPATH": str(ROOT), "PATH": "/usr/bin"}
    daemon = subprocess.run([sys.executable, "-m", "gigqd", "--db", url], cwd=tmp_path, capture_output=True, text=True,
                            timeout=60, env=environment)
    commands = [ctl(tmp_path, "--db", url, *command, check=False) for command in (["status"], ["stop"], ["scale", "2"])]
    for run in (daemon, *commands):
        lines = [line for line in run.stderr.splitlines() if line.strip()]
        assert run.returncode != 0 and len(lines) == 1, run.stderr
        assert "postgresql://" in lines[0] and "Traceback" not in run.stderr
        assert named in lines[0], lines[0]  # the database's problem, not "no gigqd is running"


def test_star_is_refused_on_postgresql_where_any_role_with_access_can_submit(postgres_url, tmp_path):
    refused = subprocess.run([sys.executable, "-m", "gigqd", "--db", postgres_url], cwd=tmp_path, capture_output=True,
                             text=True, timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin"})
    assert refused.returncode == 2 and 'allowed_modules: "*" is refused while the database is on a PostgreSQL server' \
        in refused.stderr


def test_a_running_daemon_carries_on_when_the_server_restarts(postgres, postgres_url, tmp_path):
    """And its doorbell comes back: with polls 30 s apart, a job submitted after the
    restart starts well before the next poll only if LISTEN was taken up again."""
    if postgres.server is None:
        pytest.skip("restarts only the throwaway server this session started")
    daemon = Daemon(tmp_path, workers=2, db=postgres_url, allowed_modules=TEST_MODULES, poll_interval=30.0).start()
    try:
        queue = JobQueue(postgres_url)
        runs = tmp_path / "runs.txt"
        ids = queue.submit_many(Job(f"j{i}", jobfuncs.record, params={"path": str(runs), "tag": str(i), "seconds": 0.2})
                                for i in range(20))
        wait_for(lambda: runs.exists() and runs.read_text(), what="the first job to run")
        postgres.server.stop()
        try:
            daemon.wait_event("store_write_failed", timeout=30)  # a worker could not record, and waits
        finally:
            postgres.server.start()
        for job_id in ids:
            status = wait_status(queue, job_id, "completed", timeout=60)
            assert [e["status"] for e in status["executions"]] == ["completed"]
        assert daemon.process.poll() is None and queue.stats()["completed"] == 20
        lost = daemon.wait_event("doorbell_disconnected")[0]
        daemon.wait_event("doorbell_reconnected", timeout=30)
        rung = queue.submit(Job("after", jobfuncs.record, params={"path": str(runs), "tag": "after"}))
        wait_status(queue, rung, "completed", timeout=15)
        assert "lost the connection" in lost["error"] and "polling, every 30 s" in lost["reason"]
        assert len(daemon.events("doorbell_disconnected")) == 1  # one line for the outage, not one per retry
    finally:
        daemon.kill_everything()


def _logs_of(start_output: str) -> list:
    from pathlib import Path

    path = start_output.rsplit("(log: ", 1)[-1].rstrip(")\n")
    return [Path(path)] if Path(path).exists() else []


def test_a_daemon_that_cannot_renew_its_lease_stops_its_jobs_and_resumes_when_it_can(postgres, postgres_url, tmp_path):
    if postgres.server is None:
        pytest.skip("restarts only the throwaway server this session started")
    daemon = Daemon(tmp_path, workers=1, db=postgres_url, allowed_modules=TEST_MODULES, lease=4.0, kill_grace=0.5,
                    heartbeat_interval=0.2, heartbeat_timeout=5.0).start()
    try:
        queue = JobQueue(postgres_url)
        runs = tmp_path / "runs.txt"
        job_id = queue.submit(Job("long", jobfuncs.record, params={"path": str(runs), "tag": "x", "seconds": 6}))
        first = wait_for(lambda: runs.exists() and runs.read_text().split(), what="the job to start")[0]
        postgres.server.stop()
        try:
            daemon.wait_event("lease_lapsed", timeout=30)
            wait_for(lambda: not liveness.alive(int(first), None),
                     timeout=30, what="the job's worker to be stopped while the database is away")
        finally:
            postgres.server.start()
        daemon.wait_event("lease_regained", timeout=30)
        status = wait_status(queue, job_id, "completed", timeout=60)
        assert [e["status"] for e in status["executions"]] == ["failed", "completed"]
        assert daemon.events("job_killed") or daemon.events("worker_killed")
    finally:
        daemon.kill_everything()


def test_gigqctl_status_lists_every_daemon_on_the_database_and_whose_lease_ran_out(postgres_url, tmp_path):
    from gigq_client.store import DaemonInfo

    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir(), second.mkdir()
    daemons = [Daemon(folder, workers=1, db=postgres_url, allowed_modules=TEST_MODULES,
                      socket_path=str(folder / "gigqd.sock")).start() for folder in (first, second)]
    try:
        queue = JobQueue(postgres_url)
        queue.store.register_daemon(DaemonInfo("deadbeef-0000", "lost-host", 4242, 1.0, 1.0, 1.0,
                                               machine="another-machine", extra={"workers": 3}), lease=0.0)
        shown = ctl(first, "--db", postgres_url, "--socket", str(first / "gigqd.sock"), "status").stdout
        listed = json.loads(ctl(first, "--db", postgres_url, "--socket", str(first / "gigqd.sock"), "status",
                                "--json").stdout)["cluster"]
    finally:
        for daemon in daemons:
            daemon.kill_everything()
    assert "Daemons on every host:" in shown and "lost-host" in shown and "EXPIRED" in shown
    by_host = sorted((d["host"], d["lease_expired"], d["workers"]) for d in listed)
    assert len(listed) == 3 and ("lost-host", True, 3) in by_host
    assert sum(1 for d in listed if not d["lease_expired"] and d["pid"] in {dm.process.pid for dm in daemons}) == 2
