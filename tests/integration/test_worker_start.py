"""Worker.start(): gigqd as a child process, from any thread, stopped by stop(), signals or our death."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest

from gigq_client import DaemonExited, GigqError, Job, JobQueue, Worker, liveness
from tests import jobfuncs
from tests.conftest import ROOT, wait_for
from tests.integration.daemon import pids_in, wait_status, wait_until_dead

APP = '''
import os
import signal
import sys

from gigq_client import Job, JobQueue, Worker


def note(path, hang=False):
    with open(path, "w") as handle:
        handle.write(str(os.getpid()))
    if hang:
        signal.pause()
    return "noted"


if __name__ == "__main__":
    db, marker, hang = sys.argv[1], sys.argv[2], sys.argv[3] == "hang"
    JobQueue(db).submit(Job("note", note, params={"path": marker, "hang": hang}))
    Worker(db, concurrency=2, polling_interval=0.1).start()
    print("start returned", flush=True)
'''


def _our_processes() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True) if liveness.alive(p.pid, None)}


def _in_thread(worker: Worker) -> threading.Thread:
    thread = threading.Thread(target=worker.start, daemon=True)
    thread.start()
    return thread


def _stop(worker: Worker, thread: threading.Thread) -> None:
    worker.stop()
    thread.join(timeout=60)
    assert not thread.is_alive(), "start() did not return after stop()"


def test_concurrency_jobs_run_at_once_from_a_thread_and_nothing_is_left(db_path, tmp_path):
    before = _our_processes()
    queue, folder = JobQueue(db_path), tmp_path / "started"
    folder.mkdir()
    worker = Worker(db_path, concurrency=3, polling_interval=0.1)
    thread = _in_thread(worker)
    ids = [queue.submit(Job(f"meet{i}", jobfuncs.rendezvous, params={"folder": str(folder), "count": 3},
                            max_attempts=1)) for i in range(3)]
    results = [queue.wait(job_id, timeout=60) for job_id in ids]
    assert [r["status"] for r in results] == ["completed"] * 3, [r["error"] for r in results]
    pids = {r["result"] for r in results}
    assert len(pids) == 3 and os.getpid() not in pids and {int(name) for name in os.listdir(folder)} == pids
    _stop(worker, thread)
    wait_for(lambda: _our_processes() <= before, what="gigqd and its workers to be gone")
    assert queue.store.daemons() == []


def test_stop_from_another_thread_returns_after_the_running_job_finished(db_path, tmp_path):
    queue, runs = JobQueue(db_path), tmp_path / "runs.txt"
    worker = Worker(db_path, polling_interval=60)  # the 60 s poll is never waited: a submit wakes gigqd
    thread = _in_thread(worker)
    job_id = queue.submit(Job("slow", jobfuncs.record, params={"path": str(runs), "seconds": 1.5}))
    wait_for(lambda: pids_in(runs), timeout=30, what="the job to start")
    _stop(worker, thread)
    status = queue.get_status(job_id)
    assert (status["status"], status["attempts"]) == ("completed", 1)


def test_start_with_concurrency_1_stops_a_job_at_its_timeout(db_path):
    queue = JobQueue(db_path)
    worker = Worker(db_path, polling_interval=0.1)
    thread = _in_thread(worker)
    try:
        job_id = queue.submit(Job("stuck", jobfuncs.hang, timeout=1, max_attempts=1))
        assert wait_status(queue, job_id, "timeout", timeout=30)["executions"][0]["status"] == "timeout"
    finally:
        _stop(worker, thread)


def test_a_second_start_while_the_first_runs_is_refused(db_path):
    worker = Worker(db_path, polling_interval=0.1)
    thread = _in_thread(worker)
    try:
        wait_for(lambda: JobQueue(db_path).store.daemons(), timeout=30, what="the first start()'s gigqd")
        with pytest.raises(GigqError, match="already running"):
            worker.start()
    finally:
        _stop(worker, thread)


def test_stop_before_start_has_begun_makes_it_return_at_once(db_path):
    worker = Worker(db_path)
    worker.stop()
    thread = _in_thread(worker)
    thread.join(timeout=30)
    assert not thread.is_alive() and not worker.running


def test_a_gigqd_that_cannot_start_makes_start_raise_instead_of_waiting(db_path, monkeypatch):
    monkeypatch.setenv("GIGQD_KILL_GRACE", "-1")  # gigqd refuses its configuration and exits 2
    with pytest.raises(DaemonExited, match="exited with status 2 before it was asked to stop"):
        Worker(db_path).start()


def test_allowed_modules_reaches_the_child_gigqd(db_path):
    JobQueue(db_path).close()
    os.chmod(db_path, 0o660)  # shared with the group: "*" would be refused, a list is fine
    queue = JobQueue(db_path)
    worker = Worker(db_path, polling_interval=0.1, allowed_modules=["tests.jobfuncs"])
    thread = _in_thread(worker)
    try:
        assert queue.wait(queue.submit(Job("add", jobfuncs.add, params={"a": 1, "b": 1})), timeout=60)["result"] == 2
    finally:
        _stop(worker, thread)


def _run_app(tmp_path: Path, hang: bool, **env: str) -> tuple[subprocess.Popen, Path, JobQueue]:
    (tmp_path / "app.py").write_text(APP)
    marker = tmp_path / "noted"
    environment = dict(os.environ, PYTHONPATH=str(ROOT), **env)
    command = [sys.executable, "app.py", str(tmp_path / "jobs.db"), str(marker), "hang" if hang else "return"]
    app = subprocess.Popen(command, cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True)
    # The job creates the file, then writes its pid: wait for the pid, not for the file alone.
    wait_for(lambda: marker.exists() and marker.read_text(), timeout=60, what="the app's job to run in a gigqd worker")
    return app, marker, JobQueue(str(tmp_path / "jobs.db"))


def _gigqd_of(app: subprocess.Popen) -> list[psutil.Process]:
    return wait_for(lambda: psutil.Process(app.pid).children(recursive=True), what="the app's gigqd")


def test_sigint_stops_start_in_the_main_thread_and_runs_the_scripts_own_function(tmp_path):
    app, marker, queue = _run_app(tmp_path, hang=False)
    try:
        assert int(marker.read_text()) != app.pid  # it ran in a worker process, imported from app.py
        gigqd = _gigqd_of(app)
        assert wait_status(queue, queue.list_jobs()[0]["id"], "completed")["result"] == "noted"
        app.send_signal(signal.SIGINT)
        output, _ = app.communicate(timeout=60)
        assert app.returncode == 0 and "start returned" in output
        wait_until_dead([p.pid for p in gigqd])
    finally:
        app.kill()
        app.wait()


def test_kill_9_of_the_caller_stops_its_gigqd_and_puts_the_job_back(tmp_path):
    app, _, queue = _run_app(tmp_path, hang=True, GIGQD_GRACEFUL_TIMEOUT="0.5", GIGQD_KILL_GRACE="0.5")
    gigqd = _gigqd_of(app)
    app.kill()
    app.wait()
    try:
        wait_until_dead([p.pid for p in gigqd], timeout=30)
    finally:
        for process in gigqd:  # if it did live on, do not leave it behind
            try:
                process.kill()
            except psutil.Error:
                pass
    job = queue.list_jobs()[0]
    assert job["status"] == "pending" and queue.store.daemons() == []  # stopped gracefully: gave the job back


@pytest.mark.parametrize("concurrency", [1, 3])
def test_gigqctl_worker_runs_a_pool_until_interrupted(tmp_path, concurrency):
    (tmp_path / "tasks.py").write_text("def add(a, b):\n    return a + b\n")
    db = str(tmp_path / "jobs.db")
    queue = JobQueue(db)
    job_id = queue.submit(Job("add", "tasks:add", params={"a": 2, "b": 3}))
    program = Path(sys.executable).parent / "gigqctl"
    worker = subprocess.Popen([str(program), "--db", db, "worker", "--concurrency", str(concurrency),
                               "--polling-interval", "0.1"], cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        assert queue.wait(job_id, timeout=60)["result"] == 5
        wait_for(lambda: len(psutil.Process(worker.pid).children(recursive=True)) > concurrency,
                 what=f"gigqd and its {concurrency} workers")
        gigqd = psutil.Process(worker.pid).children(recursive=True)
        worker.send_signal(signal.SIGINT)
        output, _ = worker.communicate(timeout=60)
        assert worker.returncode == 0 and output.strip().endswith("Worker stopped.")
        wait_until_dead([p.pid for p in gigqd])
    finally:
        worker.kill()
        worker.wait()
