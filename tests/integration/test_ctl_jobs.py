"""GigQ's CLI commands through gigqctl and its `gigq` alias, on a real database."""

from __future__ import annotations

import json

from gigq_client import JobQueue
from tests.integration.ctl import ctl, job_id_from

TASKS = """
def add(a, b):
    return {"sum": a + b}

def boom():
    raise ValueError("no good")
"""


def test_submit_worker_once_and_status_as_in_gigq(tmp_path):
    (tmp_path / "tasks.py").write_text(TASKS)
    job_id = job_id_from(ctl(tmp_path, "--db", "jobs.db", "submit", "tasks.add", "--name", "Add",
                             "--param", "a=2", "-p", "b=40", "--priority", "5", program="gigq").stdout)
    assert ctl(tmp_path, "--db", "jobs.db", "worker", "--once", program="gigq").stdout.strip() == "Processed one job."
    assert ctl(tmp_path, "--db", "jobs.db", "worker", "--once").stdout.strip() == "No jobs available to process."
    shown = ctl(tmp_path, "--db", "jobs.db", "status", job_id, "--show-result", "--show-params", program="gigq").stdout
    assert "Status: completed" in shown and "sum: 42" in shown and "a: 2" in shown


def test_list_stats_requeue_clear_and_wait(tmp_path):
    (tmp_path / "tasks.py").write_text(TASKS)
    env = {"GIGQ_DB": str(tmp_path / "jobs.db")}
    failing = job_id_from(ctl(tmp_path, "submit", "tasks:boom", "--max-attempts", "1", env=env).stdout)
    good = job_id_from(ctl(tmp_path, "submit", "tasks.add", "-p", "a=1", "-p", "b=1", env=env).stdout)
    ctl(tmp_path, "worker", "--once", env=env)
    ctl(tmp_path, "worker", "--once", env=env)
    listed = ctl(tmp_path, "list", "--status", "failed", env=env).stdout
    assert failing in listed and good not in listed
    assert json.loads(ctl(tmp_path, "stats", "--json", env=env).stdout)["failed"] == 1
    waited = ctl(tmp_path, "wait", failing, env=env, check=False)
    assert waited.returncode == 1 and "ValueError: no good" in waited.stdout
    assert ctl(tmp_path, "wait", good, env=env).stdout.strip() == 'add completed: {"sum": 2}'
    assert f"Job {failing} requeued." in ctl(tmp_path, "requeue", failing, env=env).stdout
    assert JobQueue(str(tmp_path / "jobs.db")).get_status(failing)["status"] == "pending"
    assert "Cleared 0 completed jobs." in ctl(tmp_path, "clear", "--before", "7", env=env).stdout
    assert "Cleared 1 completed jobs." in ctl(tmp_path, "clear", env=env).stdout


def test_errors_are_one_line_and_exit_non_zero(tmp_path):
    (tmp_path / "tasks.py").write_text(TASKS)
    ctl(tmp_path, "--db", "jobs.db", "submit", "tasks.add", "-p", "a=1", "-p", "b=2")
    cases = [
        (["status", "no-such-id"], "no job no-such-id"),
        (["cancel", "no-such-id"], "no job no-such-id"),
        (["requeue", "no-such-id"], "no such job"),
        (["submit", "tasks.missing"], "cannot import tasks:missing"),
        (["submit", "tasks.add", "-p", "novalue"], "key=value"),
        (["list", "--status", "sleeping"], "invalid status"),
    ]
    for args, message in cases:
        result = ctl(tmp_path, "--db", "jobs.db", *args, check=False)
        assert result.returncode == 1, args
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, (args, result.stderr)
    missing = ctl(tmp_path, "--db", "elsewhere.db", "list", check=False)
    assert missing.returncode == 1 and "no database" in missing.stderr
