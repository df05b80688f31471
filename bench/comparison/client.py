"""The client side of one system, run as its own process with that system's python.

    python client.py SYSTEM ACTION --db DB [--jobs N] [--kind noop|sleep10] [--interval S]

SYSTEM is gigqd, gigq or huey; ACTION is:
  init      create the database (the workers then find a ready file)
  enqueue   one submit call per job; prints {"seconds": ...} for the submit loop only.
            gigqd with --beside-daemon busy|idle: a daemon registered, as while gigqd
            runs, so that each submit rings its doorbell (see GigqdClient.beside_daemon)
  many      gigqd only: build the jobs as a user writes it (a list comprehension of Job(...)),
            then one submit_many call; prints the call's seconds and the building's seconds
  latency   submit one job every --interval seconds, each carrying time.time() taken just
            before its submit call (the job writes it next to its start time)
  burst     gigqd only: wait until --start-at (epoch seconds), then one submit call per job,
            each timed; prints every submit's seconds, the errors, and when the loop began
            and ended (bench/compare.py starts many of these at once: the contention phase)

Every job carries the params users typically send (benchjobs.payload: a 40-character
path, an int and two floats). Standard library plus the system's own client library
only: it runs in the peers' venv as well as the project's. bench/ must be on PYTHONPATH
(for benchjobs), and for huey bench/peers too, with BENCH_HUEY_DB naming the database.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time

import benchjobs


class GigqdClient:
    def __init__(self, db: str):
        from gigq_client import Job, JobQueue

        self.job_class, self.queue = Job, JobQueue(db)

    def submit(self, function, i: int, t: float) -> None:
        self.queue.submit(self.job_class(name=function.__name__, function=function, params=benchjobs.payload(i, t)))

    def many(self, function, jobs: int) -> dict:
        Job, now = self.job_class, time.time()
        started = time.perf_counter()
        records = [Job(name=function.__name__, function=function, params=benchjobs.payload(i, now))
                   for i in range(jobs)]
        built = time.perf_counter()
        self.queue.submit_many(records)
        return {"seconds": time.perf_counter() - built, "build_seconds": built - started}

    @contextlib.contextmanager
    def beside_daemon(self, pool: str):
        """A daemon's record naming a doorbell socket, as while gigqd runs, so that each
        submit rings it. "busy": nobody reads the socket, as while every worker is busy
        (the kernel keeps a few datagrams, then refuses the rest); "idle": a child process
        waits on it and drains each ring, as an idle worker does (it claims nothing)."""
        from gigq_client.store import DaemonInfo
        from gigq_client.store.sqlite.doorbell import DatagramListener

        now, name = time.time(), f"gigq-bench-bell-{os.getpid()}"
        bell = DatagramListener(name)
        info = DaemonInfo(id=name, host="bench", pid=os.getpid(), pid_started=now, started_at=now,
                          heartbeat_at=now, doorbell_path=bell.address)
        drainer = _start_drainer(bell.fileno()) if pool == "idle" else None
        self.queue.store.register_daemon(info, 600.0)
        try:
            yield
        finally:
            self.queue.store.deregister_daemon(info.id)
            if drainer is not None:
                drainer.kill()
                drainer.wait()
            bell.close()


# Waits on the doorbell and drains it, as an idle worker does; its stdin is a pipe from
# the client, so it ends when the client does, however that ends (EOF on stdin).
_DRAINER = """
import select, socket, sys
bell = socket.socket(fileno=int(sys.argv[1]))
bell.setblocking(False)
while sys.stdin not in select.select([bell, sys.stdin], [], [])[0]:
    try:
        while True:
            bell.recv(64)
    except BlockingIOError:
        pass
"""


def _start_drainer(fd: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _DRAINER, str(fd)], pass_fds=(fd,), stdin=subprocess.PIPE)


class GigqClient(GigqdClient):
    def __init__(self, db: str):
        from gigq import Job, JobQueue

        self.job_class, self.queue = Job, JobQueue(db)


class HueyClient:
    def __init__(self, db: str):
        import huey_app  # reads BENCH_HUEY_DB; SqliteHuey creates its tables here

        self.app = huey_app

    def submit(self, function, i: int, t: float) -> None:
        getattr(self.app, function.__name__)(**benchjobs.payload(i, t))  # calling a huey task enqueues it


CLIENTS = {"gigqd": GigqdClient, "gigq": GigqClient, "huey": HueyClient}


def enqueue(client, function, jobs: int, beside_daemon: str = "none") -> dict:
    with client.beside_daemon(beside_daemon) if beside_daemon != "none" else contextlib.nullcontext():
        started = time.perf_counter()
        for i in range(jobs):
            client.submit(function, i, time.time())
        return {"seconds": time.perf_counter() - started}


def burst(client, function, jobs: int, start_at: float, first: int) -> dict:
    """Submit jobs first .. first+jobs-1 one call each from start_at on, timing every call."""
    late = time.time() - start_at
    if late < 0:
        time.sleep(-late)
    taken, errors, first_error = [], 0, None
    began = time.time()
    for i in range(first, first + jobs):
        clock = time.perf_counter()
        try:
            client.submit(function, i, time.time())
        except Exception as error:  # counted and reported: the phase judges them
            errors += 1
            first_error = first_error or f"{type(error).__name__}: {error}"
        taken.append(time.perf_counter() - clock)
    return {"seconds": taken, "errors": errors, "first_error": first_error, "began": began, "ended": time.time(),
            "late": max(0.0, late)}


def latency(client, function, jobs: int, interval: float) -> dict:
    began = time.monotonic()
    for i in range(jobs):
        client.submit(function, i, time.time())
        time.sleep(max(0.0, began + (i + 1) * interval - time.monotonic()))
    return {"seconds": time.monotonic() - began}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("system", choices=sorted(CLIENTS))
    parser.add_argument("action", choices=["init", "enqueue", "many", "latency", "burst"])
    parser.add_argument("--db", required=True)
    parser.add_argument("--jobs", type=int, default=0)
    parser.add_argument("--kind", default="noop", choices=["noop", "sleep10"])
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("--start-at", type=float, default=0.0)
    parser.add_argument("--first", type=int, default=0, help="burst: index of the first job")
    parser.add_argument("--beside-daemon", default="none", choices=["none", "busy", "idle"])
    args = parser.parse_args()

    client = CLIENTS[args.system](args.db)
    function = getattr(benchjobs, args.kind)
    if args.action == "enqueue":
        outcome = enqueue(client, function, args.jobs, args.beside_daemon)
    elif args.action == "many":
        outcome = client.many(function, args.jobs)
    elif args.action == "burst":
        outcome = burst(client, function, args.jobs, args.start_at, args.first)
    elif args.action == "latency":
        outcome = latency(client, function, args.jobs, args.interval)
    else:
        outcome = {}
    print(json.dumps(outcome))


if __name__ == "__main__":
    main()
