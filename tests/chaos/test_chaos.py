"""The promise under fire: whatever dies, a submitted job is never lost and never finished twice.

A short chaos run (tests/chaos/chaos.py) against the real daemon: 2,500 jobs from four
client processes at once, while a busy worker is killed -9 three times, a busy worker
is frozen with SIGSTOP past the heartbeat timeout, and the supervisor itself is killed -9
and restarted twice (once after its workers left, once while they may still be leaving).
`python -m tests.chaos.chaos --long` is the same with 50,000 jobs and faults until the end.
"""

from __future__ import annotations

import json
import sqlite3
import time

from gigq_client import Job, JobQueue
from gigq_client.store import Outcome
from tests.chaos.chaos import SUPERVISOR_RESTART, WORKER_KILL, WORKER_STOP, ChaosRun, Plan, run_chaos


def test_no_job_is_lost_or_completed_twice_when_workers_and_the_supervisor_are_killed(tmp_path):
    plan = Plan(jobs=2500, clients=4, workers=4, kills=3, stops=1, restarts=2, deadline=50.0)
    report = run_chaos(tmp_path, plan)  # raises, with diagnostics, if the jobs are not all final in time
    figures, summary = report.figures, report.table()

    # the faults really happened, while there was work to lose
    assert figures["faults_skipped"] == 0, summary
    assert (figures[WORKER_KILL], figures[WORKER_STOP], figures[SUPERVISOR_RESTART]) == (3, 1, 2), summary
    assert figures["jobs_rerun"] >= 1, summary

    # a. every submitted job is there and final
    assert figures["jobs"] == 2500, summary
    assert figures["lost"] == 0, summary
    # b. and completed: 20 attempts are far more than the faults can spend
    assert figures["completed"] == 2500, summary
    # c. exactly once
    assert figures["duplicated_completions"] == 0, summary
    # d. every extra run has a failed execution saying why
    assert figures["unexplained_reruns"] == 0, summary
    # e. no body finished twice unless its worker was killed between its end and its commit
    assert figures["finished_twice_unexplained"] == 0, summary
    assert not report.violations, summary
    assert not report.problems, summary


def test_the_verdict_catches_lost_stuck_twice_completed_and_unexplained_jobs(tmp_path):
    """The checks are not vacuous: a doctored database and job log fail them, each job for its reason."""
    run = ChaosRun(tmp_path, Plan(jobs=7, clients=1))
    queue = JobQueue(run.daemon.db)
    tokens = [f"0-{i}" for i in range(7)]
    log = str(run.job_log_path)
    jobs = [Job("chaos", "tests.chaos.chaosjobs:mark", params={"log": log, "token": t}) for t in tokens]
    ids = queue.submit_many(jobs)
    run.client_outputs = [tmp_path / "client0.ids"]
    run.client_outputs[0].write_text("".join(f"{t} {i}\n" for t, i in zip(tokens, ids)) + "#done\n")
    now = time.time()
    ran_in = {t: [111] for t in tokens} | {"0-3": [111, 111], "0-5": [222], "0-6": [222, 111]}
    run.job_log_path.write_text("".join(f"{t} {pid} {now:.6f}\n{t} {pid} {now:.6f} end\n"
                                        for t in tokens for pid in ran_in[t]))
    claims = {job.job_id: job.claim for job in queue.store.claim("deadbeef.1.111", None, limit=7)}
    outcomes = [Outcome(claims[job_id], "completed", now, now, json.dumps({"token": token, "pid": 111}), pid=111)
                for token, job_id in zip(tokens, ids) if token != "0-4"]
    queue.store.finish(outcomes)  # 0-4 stays running
    with sqlite3.connect(run.daemon.db) as db:
        db.execute("DELETE FROM job_executions WHERE job_id = ?", (ids[1],))  # 0-1: gone
        db.execute("DELETE FROM jobs WHERE id = ?", (ids[1],))
        db.execute("INSERT INTO job_executions (id, job_id, job_rowid, worker_id, status, started_at, attempt, pid, "
                   "error) SELECT 'died', id, rowid, 'deadbeef.1.222', 'failed', '2026-01-01T00:00:00+00:00', 1, 111, "
                   "'WorkerDied' FROM jobs WHERE id = ?", (ids[6],))  # 0-6: finished twice, its first worker killed
        db.execute("INSERT INTO job_executions (id, job_id, job_rowid, worker_id, status, started_at, attempt, pid) "
                   "SELECT 'again', id, rowid, 'deadbeef.2.333', 'completed', '2026-01-01T00:00:00+00:00', 2, 333 "
                   "FROM jobs WHERE id = ?", (ids[2],))
    queue.close()

    run.analyse()

    report = run.report
    flagged = {job_id: [v for v in report.violations if job_id in v.splitlines()[0]] for job_id in ids}
    assert flagged[ids[0]] == [], report.table()
    assert [v.split(":")[0] for v in flagged[ids[1]]] == ["LOST"]
    assert [v.split(":")[0] for v in flagged[ids[2]]] == ["COMPLETED TWICE"]
    assert [v.split(":")[0] for v in flagged[ids[3]]] == ["UNEXPLAINED RE-RUN", "FINISHED TWICE"]
    assert [v.split(":")[0] for v in flagged[ids[4]]] == ["LOST"] and "stuck in 'running'" in flagged[ids[4]][0]
    assert len(flagged[ids[5]]) == 1 and "pid 111, which never ran it" in flagged[ids[5]][0]
    assert flagged[ids[6]] == []  # its body finished twice, but its first worker was killed right after
    figures = report.figures
    assert (figures["lost"], figures["duplicated_completions"], figures["unexplained_reruns"]) == (2, 1, 1)
    assert (figures["finished_twice"], figures["finished_twice_unexplained"]) == (2, 1)
    assert not report.ok
