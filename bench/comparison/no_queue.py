"""The floor for 10 ms jobs: no queue at all.

The same job function (benchjobs.sleep10, with its two log lines) called back to back
by as many forked processes as the systems have workers, each taking its share of the
jobs. Whatever rate this reaches is what the machine allows for these jobs; a queue
can only add to the time between two jobs. Read back with the same JobLog as every
system, so the figure is computed the same way.
"""

from __future__ import annotations

import os
import sys

from .joblog import JobLog

JOBS_MODULE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def measure(folder: str, jobs: int, workers: int) -> dict:
    log_path = os.path.join(folder, "jobs.log")
    children = [_fork_runner(log_path, range(w, jobs, workers)) for w in range(workers)]
    failed = [pid for pid in children if os.waitpid(pid, 0)[1] != 0]
    if failed:
        raise RuntimeError(f"{len(failed)} of the no-queue runner processes failed")
    log = JobLog(log_path)
    log.read()
    if len(log.ends) != jobs:
        raise RuntimeError(f"the no-queue runners logged {len(log.ends)} of {jobs} job ends")
    return {"sleep_drain_steady_per_s": jobs / (log.last_end() - log.first_start())}


def _fork_runner(log_path: str, indexes: range) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        os.environ["BENCH_JOB_LOG"] = log_path
        sys.path.insert(0, JOBS_MODULE_DIR)
        import benchjobs  # noqa: E402 (in the child only, after its path is set)
        for i in indexes:
            benchjobs.sleep10(**benchjobs.payload(i, 0.0))
        code = 0
    finally:
        os._exit(code)
