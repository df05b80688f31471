"""`make demo` (python -m gigqd.demo): start a daemon, run a small workflow, show what happens, stop.

The workflow shows the promises at work: a retry after a failure, a hung job
killed at its timeout, dependencies waiting for their parents, and a job
cancelled because what it depended on failed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time

from gigq_client import Job, JobQueue, JobStatus, Workflow
from gigq_client.jobs import FINAL_STATUSES

from ..ctl import daemon
from ..ctl.output import table

EXPECTED = {"fetch-a": JobStatus.COMPLETED, "fetch-b": JobStatus.COMPLETED, "flaky": JobStatus.COMPLETED,
            "report": JobStatus.COMPLETED, "hang": JobStatus.TIMEOUT, "archive": JobStatus.CANCELLED}


def build_workflow(folder: str) -> Workflow:
    flow = Workflow("demo")
    fetch_a = flow.add_job(Job("fetch-a", "gigqd.demo.jobs:fetch", params={"source": "a"}))
    fetch_b = flow.add_job(Job("fetch-b", "gigqd.demo.jobs:fetch", params={"source": "b"}))
    flaky = flow.add_job(Job("flaky", "gigqd.demo.jobs:flaky", params={"marker": os.path.join(folder, "flaky.marker")},
                             retry_delay=1, max_attempts=3))
    flow.add_job(Job("report", "gigqd.demo.jobs:report"), depends_on=[fetch_a, fetch_b, flaky])
    hang = flow.add_job(Job("hang", "gigqd.demo.jobs:hang", timeout=2, max_attempts=1))
    flow.add_job(Job("archive", "gigqd.demo.jobs:archive"), depends_on=[hang])
    return flow


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=".demo", help="Where the demo's database and logs go (emptied first).")
    folder = os.path.abspath(parser.parse_args(argv).dir)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    db = os.path.join(folder, "jobs.db")
    config = _write_config(folder, db)
    target = daemon.Target(db, db + ".sock")
    pid = daemon.start(target, config, None, False, 30, os.path.join(folder, "gigqd.log"), db + ".pid")
    print(f"1. started gigqd (pid {pid}) with 2 workers on {db}")
    try:
        queue = JobQueue(db)
        ids = build_workflow(folder).submit_all(queue)
        print(f"2. submitted a workflow of {len(ids)} jobs; watching them settle:\n")
        code = _verdict(_watch(queue, ids))
    finally:
        stopped = daemon.stop(target, now=False, timeout=60)
    print(f"\n4. stopped gigqd (pid {stopped}) cleanly; its log is {folder}/gigqd.log")
    return code


def _write_config(folder: str, db: str) -> str:
    path = os.path.join(folder, "gigqd.toml")
    with open(path, "w") as handle:
        handle.write(f'db = "{db}"\nworkers = 2\nallowed_modules = ["gigqd.demo.jobs"]\n'
                     'kill_grace = 1.0\nlog_level = "info"\n')
    return path


def _watch(queue: JobQueue, ids: list[str], timeout: float = 60) -> list[dict]:
    deadline, shown = time.monotonic() + timeout, ""
    while True:
        statuses = [queue.get_status(job_id) for job_id in ids]
        line = "   " + "  ".join(f"{s['name']}: {_state(s)}" for s in statuses)
        if line != shown:
            print(line, flush=True)
            shown = line
        if all(s["status"] in FINAL_STATUSES for s in statuses):
            return statuses
        if time.monotonic() > deadline:
            raise SystemExit("the demo's jobs did not settle within a minute; see the log")
        time.sleep(0.25)


def _state(status: dict) -> str:
    if status["status"] == JobStatus.PENDING and status["attempts"]:
        return f"retrying ({status['attempts']}/{status['max_attempts']} failed)"
    return status["status"]


def _verdict(statuses: list[dict]) -> int:
    print("\n3. outcomes:")
    rows = [(s["name"], s["status"], f"{s['attempts']}/{s['max_attempts']}", _outcome(s)) for s in statuses]
    print(table(rows, ["Job", "Status", "Attempts", "Result or error"]))
    wrong = [s["name"] for s in statuses if EXPECTED[s["name"]] != s["status"]]
    if wrong:
        print(f"\nunexpected outcome for: {', '.join(wrong)}")
        return 1
    print("\nEvery job ended as it should: flaky succeeded on its retry, hang was killed at its 2 s timeout,\n"
          "report waited for its three inputs, and archive was cancelled because hang failed.")
    return 0


def _outcome(status: dict) -> str:
    text = str(status["result"]) if status["status"] == JobStatus.COMPLETED else str(status["error"])
    return text if len(text) <= 70 else text[:67] + "..."


if __name__ == "__main__":
    sys.exit(main())
