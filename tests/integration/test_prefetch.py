"""Claiming the next batch ahead, on a worker's helper thread, while the last job of
a batch runs: every job still runs once, jobs claimed ahead never wait long behind a
long job, and a worker killed meanwhile has them released with their attempt untouched.

The job loop runs here in the test process (or a fork of it) on a real SQLite file
and a real shared board, so each case can be steered to the moment it is about."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading

import pytest

from gigq_client import DatabaseLocked, Job, JobQueue
from gigq_client.store import SqliteStore
from gigqd import board, logs
from gigqd.supervisor import recovery
from gigqd.supervisor.children import Child, describe_exit
from gigq_client.execute import Executor
from gigqd.worker.prefetch import Prefetcher
from gigqd.worker.runner import HOLD_TARGET, JobRunner
from tests import jobfuncs
from tests.conftest import wait_for


def _runner(db: str, slot: board.SlotWriter, hold_for: float = HOLD_TARGET, busy_timeout: float = 10.0):
    store = SqliteStore(db, busy_timeout=busy_timeout, queue_writes=True)
    prefetcher = Prefetcher(store, "w1", None, slot, hold_for)
    runner = JobRunner(store, "w1", None, Executor(["*"], 1 << 20, store.parent_results), batch_max=32,
                       slot=slot, prefetcher=prefetcher)
    return runner, prefetcher


def _waiting_jobs_seen(runner: JobRunner) -> None:
    """As the loop would have learnt from earlier batches: short jobs that mostly wait."""
    runner.average_run, runner.cpu_share = 0.005, 0.0


def _drain(runner: JobRunner) -> None:
    while runner.claim():
        while runner.has_work:
            runner.run_next()
    runner.flush()


def _submit(db: str, *jobs: Job) -> list[str]:
    queue = JobQueue(db)
    try:
        return [queue.submit(job) for job in jobs]
    finally:
        queue.close()


def test_short_waiting_jobs_are_claimed_ahead_and_each_runs_once(db_path):
    ids = _submit(db_path, *[Job(f"j{i}", jobfuncs.sleep, params={"seconds": 0.004}) for i in range(60)])
    runner, prefetcher = _runner(db_path, board.Board(1).writer(0))
    _drain(runner)
    queue = JobQueue(db_path)
    for job_id in ids:
        status = queue.get_status(job_id)
        assert status["status"] == "completed" and status["attempts"] == 1, status
        assert len(status["executions"]) == 1
    assert prefetcher.claimed_ahead > 0 and prefetcher.given_back == 0


def test_jobs_that_hold_the_cpu_are_not_claimed_ahead(db_path):
    # The helper thread would wait for the GIL while holding SQLite's write lock.
    _submit(db_path, *[Job(f"c{i}", jobfuncs.spin, params={"seconds": 0.004}) for i in range(60)])
    runner, prefetcher = _runner(db_path, board.Board(1).writer(0))
    _drain(runner)
    assert JobQueue(db_path).stats()["completed"] == 60
    assert prefetcher.claimed_ahead == 0 and runner.cpu_share > 0.5


def test_jobs_claimed_ahead_are_given_back_when_the_running_job_runs_long(db_path):
    long = Job("long", jobfuncs.wait_claimed_then_given_back, params={"db": db_path, "count": 10}, priority=10)
    long_id, *short_ids = _submit(db_path, long, *[Job(f"s{i}", jobfuncs.noop) for i in range(10)])
    runner, prefetcher = _runner(db_path, board.Board(1).writer(0))
    _waiting_jobs_seen(runner)
    assert runner.claim(limit=1) == 1
    runner.run_next()  # the long job: watches the ten get claimed ahead, then given back
    queue = JobQueue(db_path)
    assert queue.get_status(long_id)["result"] is None  # not recorded yet: its outcome waits for the next claim
    _drain(runner)
    assert queue.get_status(long_id)["result"] is True
    assert prefetcher.claimed_ahead == 10 and prefetcher.given_back == 10
    for job_id in short_ids:
        status = queue.get_status(job_id)
        assert status["status"] == "completed" and status["attempts"] == 1, status


def test_a_stop_during_the_claim_ahead_releases_what_never_started(db_path):
    first, *rest = _submit(db_path, Job("first", jobfuncs.sleep, params={"seconds": 0.05}, priority=10),
                           *[Job(f"r{i}", jobfuncs.noop) for i in range(5)])
    runner, prefetcher = _runner(db_path, board.Board(1).writer(0), hold_for=60)
    _waiting_jobs_seen(runner)
    runner.claim(limit=1)
    runner.run_next()
    assert runner.give_back() == 5
    queue = JobQueue(db_path)
    assert prefetcher.claimed_ahead == 5
    assert queue.get_status(first)["status"] == "completed"
    assert [queue.get_status(job_id)["status"] for job_id in rest] == ["pending"] * 5
    assert [queue.get_status(job_id)["attempts"] for job_id in rest] == [0] * 5


def test_a_store_error_in_the_claim_ahead_keeps_the_outcomes(db_path):
    first, second, third = _submit(db_path, Job("a", jobfuncs.sleep, params={"seconds": 0.01}, priority=10),
                                   Job("b", jobfuncs.sleep, params={"seconds": 0.5}, priority=10),
                                   Job("c", jobfuncs.noop))
    runner, _ = _runner(db_path, board.Board(1).writer(0), busy_timeout=0.1)
    _waiting_jobs_seen(runner)
    runner.claim(limit=2)
    runner.run_next()
    other_program = sqlite3.connect(db_path, isolation_level=None)
    other_program.execute("BEGIN EXCLUSIVE")  # the claim ahead, started during "b", cannot write
    try:
        runner.run_next()
    finally:
        other_program.execute("ROLLBACK")
    with pytest.raises(DatabaseLocked):
        runner.claim()
    assert [o.claim.job_id for o in runner.outcomes] == [first, second]
    _drain(runner)
    queue = JobQueue(db_path)
    for job_id in (first, second, third):
        status = queue.get_status(job_id)
        assert status["status"] == "completed" and status["attempts"] == 1, status


def test_an_unexpected_error_on_the_helper_reaches_the_job_loop_instead_of_hanging_it(db_path, monkeypatch):
    _submit(db_path, Job("first", jobfuncs.sleep, params={"seconds": 0.02}, priority=10), Job("next", jobfuncs.noop))
    slot = board.Board(1).writer(0)
    runner, _ = _runner(db_path, slot)

    def broken_append(jobs):
        raise RuntimeError("the board broke")

    monkeypatch.setattr(slot, "append", broken_append)
    _waiting_jobs_seen(runner)
    runner.claim(limit=1)
    runner.run_next()
    raised: list[BaseException] = []
    waiter = threading.Thread(target=lambda: _capture(runner.claim, raised), daemon=True)
    waiter.start()
    waiter.join(10)
    assert not waiter.is_alive(), "the job loop hung waiting for the helper"
    assert [str(error) for error in raised] == ["the board broke"]


def _capture(action, raised: list) -> None:
    try:
        action()
    except BaseException as error:
        raised.append(error)


def test_a_worker_killed_during_the_claim_ahead_has_those_jobs_released(db_path, tmp_path):
    marker = str(tmp_path / "hanging")
    hanging, *ahead = _submit(db_path, Job("hang", jobfuncs.touch_and_hang, params={"path": marker}, priority=10),
                              *[Job(f"a{i}", jobfuncs.noop) for i in range(5)])
    shared = board.Board(1)
    shared.reset(0, 0)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the worker
        try:
            runner, _ = _runner(db_path, shared.writer(0), hold_for=60)
            _waiting_jobs_seen(runner)
            runner.claim(limit=1)
            runner.run_next()
        finally:
            os._exit(1)
    try:
        view = wait_for(lambda: _held_ahead(shared, 5), what="five jobs claimed ahead on the board")
        assert os.path.exists(marker) and view.running_job.job_id == hanging
    finally:
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    store = SqliteStore(db_path)
    child = Child(slot=0, pid=pid, worker_id="w1", wake_fd=-1, generation=0)
    recovery.record_claims(store, child, shared.read(0), describe_exit(status), False, logs.get_logger())
    queue = JobQueue(db_path)
    died = queue.get_status(hanging)
    assert died["attempts"] == 1 and "WorkerDied" in died["error"]
    for job_id in ahead:
        status = queue.get_status(job_id)
        assert status["status"] == "pending" and status["attempts"] == 0 and not status["executions"], status


def _held_ahead(shared: board.Board, count: int):
    view = shared.read(0)
    return view if sum(1 for h in view.held if h.phase == board.HELD) == count else None


def test_a_real_daemon_claims_short_waiting_jobs_ahead_and_runs_each_once(make_daemon, tmp_path):
    runs = str(tmp_path / "runs")
    daemon = make_daemon(workers=2).start()
    queue = daemon.queue()
    queue.submit_many([Job(f"s{i}", jobfuncs.record, params={"path": runs, "tag": str(i), "seconds": 0.005})
                       for i in range(200)])
    wait_for(lambda: queue.stats()["completed"] == 200, timeout=60, what="200 jobs completed")
    claims = daemon.events("job_claimed")
    assert any(event["ahead"] for event in claims), "no batch was claimed ahead"
    tags = sorted(int(line.split()[1]) for line in open(runs))
    assert tags == list(range(200))  # each job ran exactly once
