"""Where a worker's time goes in a drain of 10 ms jobs, read from the job log.

    python bench/worker_gaps.py [--jobs 2000] [--workers 2] [--runs 3]

Submits the jobs to a fresh database, starts gigqd, waits for the drain, then
reads each worker's start and end lines (bench/benchjobs.py writes them) and
prints: how long a job takes (the job's own time, the floor's too), the gap
between one job's end and the next one's start in the same worker (what gigqd
adds), and how far apart the workers started and ended (what batching costs at
the edges of a burst). Used to find what stood between gigqd and 97 % of ideal;
bench/compare.py gives the comparable figures side by side with the peers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench import benchjobs  # noqa: E402
from gigq_client import Job, JobQueue  # noqa: E402


def drain(folder: str, jobs: int, workers: int) -> dict[int, list[tuple[str, float]]]:
    db, job_log = os.path.join(folder, "jobs.db"), os.path.join(folder, "jobs.log")
    queue = JobQueue(db)
    queue.submit_many([Job(f"j{i}", benchjobs.sleep10, params={"i": i}) for i in range(jobs)])
    queue.close()
    env = dict(os.environ, BENCH_JOB_LOG=job_log, PYTHONPATH=ROOT)
    daemon = subprocess.Popen([sys.executable, "-m", "gigqd", "--db", db, "--workers", str(workers)], cwd=folder,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + jobs / 50 + 30
        while _ended(job_log) < jobs:
            if time.monotonic() > deadline:
                raise SystemExit(f"the drain did not finish: {_ended(job_log)} of {jobs} jobs ended")
            time.sleep(0.1)
    finally:
        daemon.terminate()
        daemon.wait()
    return _marks_by_worker(job_log)


def _ended(job_log: str) -> int:
    try:
        with open(job_log) as lines:
            return sum(1 for line in lines if line.startswith("E"))
    except FileNotFoundError:
        return 0


def _marks_by_worker(job_log: str) -> dict[int, list[tuple[str, float]]]:
    marks: dict[int, list[tuple[str, float]]] = defaultdict(list)
    with open(job_log) as lines:
        for line in lines:
            fields = line.split()
            marks[int(fields[-1])].append((fields[0], float(fields[2])))
    for worker in marks.values():
        worker.sort(key=lambda mark: mark[1])
    return marks


def summary(marks: dict[int, list[tuple[str, float]]], workers: int) -> str:
    lengths, gaps = [], []
    for worker in marks.values():
        for (kind, at), (_, then) in zip(worker, worker[1:]):
            (lengths if kind == "S" else gaps).append((then - at) * 1e6)
    starts = [worker[0][1] for worker in marks.values()]
    ends = [worker[-1][1] for worker in marks.values()]
    steady = len(lengths) / (max(ends) - min(starts))
    return (f"job {statistics.mean(lengths):,.0f} µs mean · gap {statistics.mean(gaps):,.0f} µs mean, "
            f"p50 {statistics.median(gaps):,.0f} · start skew {1e3 * (max(starts) - min(starts)):.1f} ms, "
            f"end skew {1e3 * (max(ends) - min(ends)):.1f} ms · steady {steady:.1f} jobs/s = "
            f"{steady / workers:.2f} % of ideal")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory(prefix="gigqd-gaps-") as folder:
            print(f"run {run}: {summary(drain(folder, args.jobs, args.workers), args.workers)}", flush=True)


if __name__ == "__main__":
    main()
