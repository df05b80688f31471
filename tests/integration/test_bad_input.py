"""Bad input gets a clear error naming the problem, and nothing else in the queue is harmed."""

from __future__ import annotations

import os
import resource
import sqlite3
import subprocess
import sys
import tempfile

import psutil
import pytest

from gigq_client import DatabaseLocked, Job, JobQueue, ReadOnlyStore
from tests import jobfuncs
from tests.conftest import wait_for
from tests.forked import drop_to_nobody, in_child
from tests.integration.daemon import wait_status

HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("held", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


def _lock(db: str) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, db], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def _unlock(holder: subprocess.Popen) -> None:
    holder.stdin.write("\n")
    holder.stdin.close()
    holder.wait(timeout=10)


def test_database_locked_by_another_program_is_a_clear_error_and_harms_nothing(db_path):
    queue = JobQueue(db_path)
    kept = queue.submit(Job("kept", jobfuncs.noop))
    holder = _lock(db_path)
    try:
        with pytest.raises(DatabaseLocked,
                           match=r"locked by another connection for longer than the busy timeout \(0.2 s\)"):
            JobQueue(db_path, busy_timeout=0.2).submit(Job("blocked", jobfuncs.noop))
    finally:
        _unlock(holder)
    assert queue.stats()["total"] == 1 and queue.get_status(kept)["status"] == "pending"


def test_workers_wait_out_a_lock_and_then_record_their_jobs(make_daemon):
    daemon = make_daemon(workers=1, busy_timeout=0.2).start()
    queue = daemon.queue()
    first = queue.submit(Job("first", jobfuncs.sleep, params={"seconds": 0.5}))
    wait_status(queue, first, "running")
    holder = _lock(daemon.db)
    try:
        daemon.wait_event("store_write_failed", timeout=30)  # the finished job could not be recorded yet
    finally:
        _unlock(holder)
    assert wait_status(queue, first, "completed")["attempts"] == 1
    job_id = queue.submit(Job("after", jobfuncs.add, params={"a": 1, "b": 2}))
    assert wait_status(queue, job_id, "completed")["result"] == 3


def test_full_disk_is_a_clear_error_and_the_database_stays_intact(db_path):
    queue = JobQueue(db_path)
    before = queue.submit(Job("before", jobfuncs.noop))

    def fill_the_disk() -> str:  # a file size limit stands in for a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (os.path.getsize(db_path) + 64_000,) * 2)
        child_queue = JobQueue(db_path)
        for _ in range(10_000):
            child_queue.submit(Job("filler", jobfuncs.echo, params={"pad": "x" * 2000}))
        return "never filled"

    message = in_child(fill_the_disk)
    assert message.startswith("StoreFull: cannot write to") and "full" in message
    assert queue.store._read("PRAGMA integrity_check") == [("ok",)]
    assert queue.get_status(before)["status"] == "pending"
    queue.submit(Job("after", jobfuncs.noop))  # with room again, the queue carries on


def test_full_disk_under_a_running_daemon_keeps_the_outcome_until_there_is_room(make_daemon):
    daemon = make_daemon(workers=1).start()
    queue = daemon.queue()
    wait_status(queue, queue.submit(Job("warm", jobfuncs.noop)), "completed")
    (worker,) = [psutil.Process(pid) for pid in daemon.worker_pids()]
    files = [daemon.db, daemon.db + "-wal", str(daemon.log_path)]
    room = max(os.path.getsize(path) for path in files if os.path.exists(path)) + 200_000
    worker.rlimit(psutil.RLIMIT_FSIZE, (room, psutil.RLIM_INFINITY))  # the disk fills up under the worker
    big = queue.submit(Job("big", jobfuncs.huge_result, params={"megabytes": 1}))
    failed = daemon.wait_event("store_write_failed", timeout=30)[0]
    assert "full" in failed["error"], failed
    assert queue.get_status(big)["status"] == "running" and worker.is_running()  # nothing lost, nobody died
    worker.rlimit(psutil.RLIMIT_FSIZE, (psutil.RLIM_INFINITY, psutil.RLIM_INFINITY))  # room again
    done = wait_status(queue, big, "completed", timeout=60)
    assert done["attempts"] == 1 and len(done["result"]) == 2**20  # recorded as it was, not run again
    assert daemon.worker_pids() == [worker.pid]
    assert queue.store._read("PRAGMA integrity_check") == [("ok",)]


def test_read_only_database_is_a_clear_error():
    folder = tempfile.mkdtemp()
    os.chmod(folder, 0o755)
    path = os.path.join(folder, "jobs.db")
    JobQueue(path).submit(Job("kept", jobfuncs.noop))
    os.chmod(path, 0o644)

    def submit_as_a_reader() -> str:  # a user who may read the database but not write it
        if os.geteuid() == 0:
            drop_to_nobody()
        else:
            os.chmod(path, 0o444)
            os.chmod(folder, 0o555)
        JobQueue(path).submit(Job("refused", jobfuncs.noop))
        return "submitted"

    message = in_child(submit_as_a_reader)
    os.chmod(folder, 0o755)
    assert message.startswith(f"{ReadOnlyStore.__name__}: cannot write to {path}") and "read-only" in message
    assert JobQueue(path).stats()["total"] == 1


def test_daemon_refuses_a_file_that_is_not_sqlite_and_leaves_it_alone(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("my notes, not a database\n")
    result = subprocess.run([sys.executable, "-m", "gigqd", "--db", str(path), "--workers", "1"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "is not a SQLite database" in result.stderr
    assert path.read_text() == "my notes, not a database\n"


def test_malformed_row_written_by_hand_fails_alone_with_the_reason(make_daemon):
    daemon = make_daemon(workers=1).start()
    queue = daemon.queue()
    good = queue.submit(Job("good", jobfuncs.add, params={"a": 1, "b": 1}))
    conn = sqlite3.connect(daemon.db)
    rows = [  # id, module, function, params, timeout: what a careless hand or a hostile one might write
        ("bad-timeout", "tests.jobfuncs", "noop", "{}", "soon"),
        ("bad-params", "tests.jobfuncs", "noop", "not json", 10),
        ("bad-function", "../etc", "passwd", "{}", 10),
        ("params-list", "tests.jobfuncs", "noop", "[1, 2]", 10),
    ]
    conn.executemany(
        "INSERT INTO jobs (id, name, function_module, function_name, params, timeout, status, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, 'pending', 'now', 'now')",
        [(job_id, job_id, module, function, params, timeout) for job_id, module, function, params, timeout in rows],
    )
    conn.commit()
    expectations = {"bad-timeout": "timeout 'soon'", "bad-params": "params are not valid JSON",
                    "bad-function": "not a valid 'module:function'", "params-list": "must be a JSON object"}
    queue.store.notify_new_jobs()  # rows written by hand ring no doorbell
    for job_id, words in expectations.items():
        status = wait_status(queue, job_id, "failed")
        assert words in status["error"] and status["attempts"] == 1, status["error"]
    assert wait_status(queue, good, "completed")["result"] == 2
    assert wait_status(queue, queue.submit(Job("after", jobfuncs.noop)), "completed")
    wait_for(lambda: len(daemon.worker_pids()) == 1, what="the same pool")
