"""One submitting client of a chaos run, as its own process.

    python -m tests.chaos.client --db DB --job-log LOG --out OUT --index 0 --count 500

Submits `count` jobs (tests.chaos.chaosjobs:mark), one at a time or in `submit_many`
batches at random, and appends "token job-id" to OUT as soon as each submit has
returned, so the driver knows every id the queue handed out. A submit that raises is
checked (was the job stored anyway?) and retried; each such error is written to OUT
as a "#error ..." line. The last line is "#done".
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from gigq_client import Job, JobQueue
from gigq_client.errors import GigqError

FUNCTION = "tests.chaos.chaosjobs:mark"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--job-log", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--rate", type=float, default=0.0, help="jobs per second (0: as fast as possible)")
    parser.add_argument("--max-attempts", type=int, default=20)
    parser.add_argument("--max-ms", type=float, default=20.0)
    parser.add_argument("--instant-share", type=float, default=0.5, help="share of jobs that do no work at all")
    parser.add_argument("--slow-share", type=float, default=0.005, help="share of jobs that work 200-1000 ms")
    parser.add_argument("--batch-share", type=float, default=0.5, help="share of submissions made with submit_many")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--function", default=FUNCTION, help="the job function, called with log, token and ms")
    args = parser.parse_args(argv)

    rng = random.Random(args.seed * 1000 + args.index)
    queue = JobQueue(args.db)
    started = time.monotonic()
    submitted = 0
    with open(args.out, "a", buffering=1) as out:
        while submitted < args.count:
            size = 1
            if rng.random() < args.batch_share:
                size = rng.randint(2, 50)
            size = min(size, args.count - submitted)
            jobs = [
                Job(name="chaos", function=args.function, max_attempts=args.max_attempts,
                    params={"log": args.job_log, "token": f"{args.index}-{submitted + i}", "ms": _work(rng, args)})
                for i in range(size)
            ]
            ids = _submit(queue, jobs, out)
            out.write("".join(f"{job.params['token']} {job_id}\n" for job, job_id in zip(jobs, ids)))
            submitted += size
            if args.rate > 0:
                ahead = started + submitted / args.rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
        out.write("#done\n")
    queue.close()
    return 0


def _work(rng: random.Random, args: argparse.Namespace) -> float:
    """Milliseconds of work for one job: none, a little, or (rarely) enough to be caught mid-run."""
    if rng.random() < args.slow_share:
        return round(rng.uniform(200.0, 1000.0), 3)
    if rng.random() < args.instant_share:
        return 0.0
    return round(rng.uniform(0.0, args.max_ms), 3)


GIVE_UP_AFTER = 120.0  # seconds of failing submits (a database restarting, a host cut off) before the client gives up


def _submit(queue: JobQueue, jobs: list[Job], out) -> list[str]:
    """Submit; on an error, find out whether the jobs were stored after all, else retry."""
    deadline, attempt = time.monotonic() + GIVE_UP_AFTER, 0
    while time.monotonic() < deadline:
        attempt += 1
        try:
            if len(jobs) == 1:
                return [queue.submit(jobs[0])]
            return queue.submit_many(jobs)
        except GigqError as error:
            out.write(f"#error {type(error).__name__}: {error}\n")
            time.sleep(min(0.05 * attempt, 1.0))
            stored = _stored(queue, jobs)
            if stored is None:
                continue  # the database cannot even be read yet
            if all(stored):  # the transaction committed although the call failed
                out.write(f"#stored-despite-error {len(jobs)}\n")
                return [job.id for job in jobs]
            if any(stored):  # a transaction is all or none: a partial batch is a bug worth reporting
                out.write(f"#partial-batch {sum(stored)}/{len(jobs)}\n")
                out.write("".join(f"{job.params['token']} {job.id}\n" for job, ok in zip(jobs, stored) if ok))
                raise
    raise RuntimeError(f"submit kept failing for {GIVE_UP_AFTER:g} s")


def _stored(queue: JobQueue, jobs: list[Job]) -> list[bool] | None:
    try:
        return [queue.get_status(job.id).get("exists", True) is not False for job in jobs]
    except GigqError:
        return None


if __name__ == "__main__":
    sys.exit(main())
