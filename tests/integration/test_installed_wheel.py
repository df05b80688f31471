"""gigqd as `pip install` leaves it, away from this checkout: a wheel built from the
source tree, installed into a folder of its own, runs a job on both stores, and its
gigqctl finds the daemon.

The rest of the suite imports the checkout itself, so it would not notice a
migration file, a module or a console script that a wheel leaves out; a user who
follows the README's `pip install /path/to/this/repository` would.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gigq_client import JobQueue
from gigq_client.jobs import FINAL_STATUSES
from tests.conftest import ROOT, wait_for

SKIPPED_IN_COPY = shutil.ignore_patterns(".git", ".venv", "*-venv", "__pycache__", "build", "*.egg-info", ".demo",
                                         ".pytest_cache", ".hypothesis", "*.db", "*.db-wal", "*.db-shm")

TASKS = "def double(x):\n    return 2 * x\n"

SUBMIT = """
import sys
import gigq_client, gigqd
from gigq_client import Job, JobQueue
from tasks import double

site = sys.argv[2]
for module in (gigq_client, gigqd):  # the installed copy, not the checkout
    assert module.__file__.startswith(site), module.__file__
print(JobQueue(sys.argv[1]).submit(Job("double", double, params={"x": 21})))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A folder holding gigqd installed from a wheel of the source tree, with its scripts in bin/."""
    work = tmp_path_factory.mktemp("wheel")
    source, dist, site = work / "source", work / "dist", work / "site"
    shutil.copytree(ROOT, source, ignore=SKIPPED_IN_COPY)
    _pip("wheel", "--no-deps", "--wheel-dir", str(dist), str(source))
    wheels = list(dist.glob("gigqd-*.whl"))
    assert len(wheels) == 1, wheels
    _pip("install", "--no-deps", "--target", str(site), str(wheels[0]))
    return site


def _pip(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *args],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_an_installed_wheel_migrates_a_new_database_and_its_daemon_runs_a_job(installed, store, postgres,
                                                                               tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    (app / "tasks.py").write_text(TASKS)
    db = str(app / "jobs.db") if store == "sqlite" else postgres.new(migrated=False)  # migrations from the wheel
    # On PostgreSQL allowed_modules must name the job modules ("*" is refused there).
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(installed), str(app)]), GIGQD_ALLOWED_MODULES="tasks")
    env.pop("NOTIFY_SOCKET", None)
    submitted = subprocess.run([sys.executable, "-c", SUBMIT, db, str(installed)], cwd=app, env=env,
                               capture_output=True, text=True, timeout=60)
    assert submitted.returncode == 0, submitted.stderr[-3000:]
    job_id = submitted.stdout.strip()
    daemon = subprocess.Popen([str(installed / "bin" / "gigqd"), "--db", db, "--workers", "1"], cwd=app, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        queue = JobQueue(db)
        status = wait_for(lambda: _final(queue, job_id) or daemon.poll() is not None, timeout=30,
                          what="the job to finish")
        assert daemon.poll() is None, daemon.communicate()[1][-3000:]
        assert (status["status"], status["result"]) == ("completed", 42), status
        shown = subprocess.run([str(installed / "bin" / "gigqctl"), "--db", db, "status"], cwd=app, env=env,
                               capture_output=True, text=True, timeout=30)
        assert f"gigqd pid {daemon.pid}" in shown.stdout, shown.stdout + shown.stderr
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, errors = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, errors[-3000:]


def _final(queue: JobQueue, job_id: str):
    status = queue.get_status(job_id)
    return status if status["status"] in FINAL_STATUSES else None
