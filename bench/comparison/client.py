"""The client side of one system, run as its own process with that system's python.

    python client.py SYSTEM ACTION --db DB [--jobs N] [--kind noop|sleep10] [--interval S]

SYSTEM is gigqd, gigq or huey; ACTION is:
  init      create the database (the workers then find a ready file)
  enqueue   one submit call per job; prints {"seconds": ...} for the submit loop only
  many      gigqd only: build the jobs, then one submit_many call; prints the call's seconds
            and the seconds spent building the Job objects
  latency   submit one job every --interval seconds, each carrying time.time() taken just
            before its submit call (the job writes it next to its start time)

Standard library plus the system's own client library only: it runs in the peers'
venv as well as the project's. bench/ must be on PYTHONPATH (for benchjobs), and for
huey bench/peers too, with BENCH_HUEY_DB naming the database.
"""

from __future__ import annotations

import argparse
import json
import time


class GigqdClient:
    def __init__(self, db: str):
        from gigq_client import Job, JobQueue

        self.job_class, self.queue = Job, JobQueue(db)

    def job(self, function, i: int, t: float = 0.0):
        return self.job_class(name=function.__name__, function=function, params={"i": i, "t": t})

    def submit(self, function, i: int, t: float = 0.0) -> None:
        self.queue.submit(self.job(function, i, t))

    def submit_many(self, jobs: list) -> None:
        self.queue.submit_many(jobs)


class GigqClient(GigqdClient):
    def __init__(self, db: str):
        from gigq import Job, JobQueue

        self.job_class, self.queue = Job, JobQueue(db)


class HueyClient:
    def __init__(self, db: str):
        import huey_app  # reads BENCH_HUEY_DB; SqliteHuey creates its tables here

        self.app = huey_app

    def submit(self, function, i: int, t: float = 0.0) -> None:
        getattr(self.app, function.__name__)(i, t)  # calling a huey task enqueues it


CLIENTS = {"gigqd": GigqdClient, "gigq": GigqClient, "huey": HueyClient}


def enqueue(client, function, jobs: int) -> dict:
    started = time.perf_counter()
    for i in range(jobs):
        client.submit(function, i)
    return {"seconds": time.perf_counter() - started}


def many(client, function, jobs: int) -> dict:
    started = time.perf_counter()
    records = [client.job(function, i) for i in range(jobs)]
    built = time.perf_counter()
    client.submit_many(records)
    return {"seconds": time.perf_counter() - built, "build_seconds": built - started}


def latency(client, function, jobs: int, interval: float) -> dict:
    began = time.monotonic()
    for i in range(jobs):
        client.submit(function, i, time.time())
        time.sleep(max(0.0, began + (i + 1) * interval - time.monotonic()))
    return {"seconds": time.monotonic() - began}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("system", choices=sorted(CLIENTS))
    parser.add_argument("action", choices=["init", "enqueue", "many", "latency"])
    parser.add_argument("--db", required=True)
    parser.add_argument("--jobs", type=int, default=0)
    parser.add_argument("--kind", default="noop", choices=["noop", "sleep10"])
    parser.add_argument("--interval", type=float, default=0.02)
    args = parser.parse_args()

    import benchjobs

    client = CLIENTS[args.system](args.db)
    function = getattr(benchjobs, args.kind)
    if args.action == "enqueue":
        outcome = enqueue(client, function, args.jobs)
    elif args.action == "many":
        outcome = many(client, function, args.jobs)
    elif args.action == "latency":
        outcome = latency(client, function, args.jobs, args.interval)
    else:
        outcome = {}
    print(json.dumps(outcome))


if __name__ == "__main__":
    main()
