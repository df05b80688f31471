"""Whoever can write to the database must not be able to run arbitrary code, and files stay private."""

from __future__ import annotations

import grp
import os
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from gigq_client import DaemonExited, Job, JobQueue, Worker
from tests import jobfuncs
from tests.conftest import ROOT
from tests.integration.ctl import ctl, job_id_from
from tests.integration.daemon import wait_status

EVIL = "import pathlib\npathlib.Path(__file__).with_name('IMPORTED').touch()\n\ndef run():\n    return 'ran'\n"


def test_functions_outside_allowed_modules_fail_and_are_never_imported(make_daemon, tmp_path):
    (tmp_path / "evil.py").write_text(EVIL)
    daemon = make_daemon(workers=1, allowed_modules=["tests.jobfuncs"]).start()
    queue = daemon.queue()
    status = wait_status(queue, queue.submit(Job("sneaky", "evil:run", max_attempts=3)), "failed")
    assert "evil:run is not allowed" in status["error"] and "allowed_modules" in status["error"]
    assert status["attempts"] == 1 and not (tmp_path / "IMPORTED").exists()
    job_id = queue.submit(Job("fine", jobfuncs.add, params={"a": 1, "b": 2}))
    assert wait_status(queue, job_id, "completed")["result"] == 3


def test_a_prefix_allows_its_submodules_only(make_daemon, tmp_path):
    (tmp_path / "testsuite_lookalike.py").write_text(EVIL)
    daemon = make_daemon(workers=1, allowed_modules=["tests"]).start()
    queue = daemon.queue()
    assert wait_status(queue, queue.submit(Job("ok", jobfuncs.noop)), "completed")
    status = wait_status(queue, queue.submit(Job("lookalike", "testsuite_lookalike:run")), "failed")
    assert "not allowed" in status["error"] and not (tmp_path / "IMPORTED").exists()


def test_gigqd_check_warns_when_any_function_may_run(tmp_path):
    (tmp_path / "open.toml").write_text('db = "jobs.db"\n')
    (tmp_path / "closed.toml").write_text('db = "jobs.db"\nallowed_modules = ["tasks"]\n')

    def run(name: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "gigqd", "check", "--config", str(tmp_path / name)]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    opened, closed = run("open.toml"), run("closed.toml")
    assert opened.returncode == 0 and "warning: allowed_modules allows" in opened.stdout
    assert closed.returncode == 0 and "warning" not in closed.stdout


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_every_file_gigqd_creates_gives_nothing_to_other_users(tmp_path):
    (tmp_path / "tasks.py").write_text("def noop():\n    return None\n")
    ctl(tmp_path, "--db", "jobs.db", "start", "--workers", "1")
    try:
        ctl(tmp_path, "--db", "jobs.db", "submit", "tasks.noop")
        created = ("jobs.db", "jobs.db-wal", "jobs.db-shm", "jobs.db.lock", "jobs.db.sock", "jobs.db.pid",
                   "jobs.db.log")
        for name in created:
            assert _mode(tmp_path / name) == 0o600, name
    finally:
        ctl(tmp_path, "--db", "jobs.db", "stop")


def test_socket_group_opens_socket_and_database_to_that_group(make_daemon):
    group = grp.getgrgid(os.getgid()).gr_name
    daemon = make_daemon(workers=1, socket_group=group, allowed_modules=["tests.jobfuncs"]).start()
    for path in (daemon.db, daemon.db + ".sock"):
        assert _mode(Path(path)) == 0o660 and os.stat(path).st_gid == os.getgid()


def test_no_pickle_anywhere():
    pattern = re.compile(r"^\s*(import|from)\s+(c?pickle|marshal|shelve|dill)\b", re.M)
    offenders = [str(path) for package in ("gigqd", "gigq_client") for path in (Path(ROOT) / package).rglob("*.py")
                 if pattern.search(path.read_text())]
    assert offenders == []


def _gigqd(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gigqd", *args], cwd=folder, capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT), **env))


def _refused_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if "allowed_modules" in line]
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    return lines[0]


def test_gigqd_refuses_star_when_socket_group_shares_the_database(tmp_path):
    group = grp.getgrgid(os.getgid()).gr_name
    line = _refused_line(_gigqd(tmp_path, "--db", "jobs.db", GIGQD_SOCKET_GROUP=group))
    assert '"*" is refused while socket_group' in line and "list your job modules" in line
    assert not (tmp_path / "jobs.db.sock").exists() and not (tmp_path / "jobs.db").exists()


@pytest.mark.parametrize("shared", ["database", "directory"])
def test_gigqd_refuses_star_on_a_database_others_can_write(tmp_path, shared):
    folder = tmp_path / "data"
    folder.mkdir()
    JobQueue(str(folder / "jobs.db")).close()
    os.chmod(folder / "jobs.db" if shared == "database" else folder, 0o660 if shared == "database" else 0o770)
    line = _refused_line(_gigqd(folder, "--db", "jobs.db"))
    assert line.startswith('gigqd: allowed_modules: "*" is refused while ') and "writable by its group" in line
    (tmp_path / "tasks.toml").write_text(f'db = "{folder / "jobs.db"}"\nallowed_modules = ["tasks"]\n')
    (tmp_path / "open.toml").write_text(f'db = "{folder / "jobs.db"}"\n')
    assert _refused_line(_gigqd(tmp_path, "check", "--config", "open.toml")) == line
    assert _gigqd(tmp_path, "check", "--config", "tasks.toml").returncode == 0


def test_a_sticky_directory_such_as_tmp_is_not_sharing(tmp_path):
    folder = tmp_path / "sticky"
    folder.mkdir()
    os.chmod(folder, 0o1777)
    (tmp_path / "open.toml").write_text(f'db = "{folder / "jobs.db"}"\n')
    assert _gigqd(tmp_path, "check", "--config", "open.toml").returncode == 0


def test_worker_start_on_a_shared_database_raises_instead_of_running_everything(db_path):
    JobQueue(db_path).close()
    os.chmod(db_path, 0o660)
    with pytest.raises(DaemonExited, match="status 2"):
        Worker(db_path).start()


@pytest.mark.parametrize("reference, params", [
    ("os:system", {"command": "touch {T}"}),
    ("subprocess:run", {"args": ["touch", "{T}"]}),
    ("builtins:open", {"file": "{T}", "mode": "w"}),
    ("shutil:copyfile", {"src": __file__, "dst": "{T}"}),
])
def test_a_daemon_on_its_defaults_refuses_standard_library_functions(make_daemon, tmp_path, reference, params):
    daemon = make_daemon(workers=1).start()
    queue, target = daemon.queue(), tmp_path / "ran"
    filled = {key: [v.replace("{T}", str(target)) for v in value] if isinstance(value, list)
              else value.replace("{T}", str(target)) for key, value in params.items()}
    status = wait_status(queue, queue.submit(Job("hostile", reference, params=filled, max_attempts=3)), "failed")
    assert status["error"].startswith(f"{reference} is not allowed") and "allowed_modules" in status["error"]
    assert status["attempts"] == 1 and not target.exists()
    assert wait_status(queue, queue.submit(Job("fine", jobfuncs.add, params={"a": 1, "b": 2})), "completed")


def test_gigqctl_submit_os_system_to_a_daemon_on_its_defaults_runs_nothing(tmp_path):
    target = tmp_path / "ran"
    ctl(tmp_path, "--db", "jobs.db", "start", "--workers", "1")
    try:
        output = ctl(tmp_path, "--db", "jobs.db", "submit", "os.system", "--param",
                     f"command=touch {shlex.quote(str(target))}").stdout
        status = wait_status(JobQueue(str(tmp_path / "jobs.db")), job_id_from(output), "failed")
        assert 'os:system is not allowed: "*" in allowed_modules does not cover os' in status["error"]
        assert not target.exists()
    finally:
        ctl(tmp_path, "--db", "jobs.db", "stop")


def test_a_reload_that_brings_back_star_on_a_database_opened_to_others_is_refused(make_daemon):
    import signal

    daemon = make_daemon(workers=1, allowed_modules=["tests"]).start()
    os.chmod(daemon.db, 0o660)  # opened to the group after the daemon started
    daemon.write_config(allowed_modules=["*"])
    daemon.signal(signal.SIGHUP)
    refused = daemon.wait_event("config_reload_failed")[0]
    assert '"*" is refused while' in refused["error"] and "writable by its group" in refused["error"]
    assert daemon.events("config_reloaded") == [] and daemon.process.poll() is None
