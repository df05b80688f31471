"""The client side of one system on PostgreSQL, run as its own process with that system's python.

    python client.py SYSTEM ACTION --db URL [--jobs N] [--kind noop|sleep10] [--interval S]

SYSTEM is gigqd, pgqueuer or procrastinate; ACTION is:
  init      create the system's tables in the database (its workers then find them)
  enqueue   one submit call per job, awaited before the next; prints {"seconds": ...}
            (gigqd with a daemon registered, as while one runs, so that its submits
            notify as pgqueuer's trigger does on every insert)
  many      the system's batch call for all the jobs at once: gigqd submit_many,
            pgqueuer enqueue() with lists, procrastinate batch_defer_async()
  latency   submit one job every --interval seconds, each carrying time.time() taken just
            before its submit call (the job writes it next to its start time)

Each peer is driven through its own documented asyncio API, gigqd through its blocking
one (a coroutine wrapper only, so that one loop drives all three). Standard library plus
the system's own client library: bench/ must be on PYTHONPATH (for benchjobs), and for
the peers bench/postgres/apps too, with BENCH_PG_URL naming the database.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import time


class GigqdClient:
    async def open(self, url: str) -> None:
        from gigq_client import Job, JobQueue

        self.job_class, self.queue = Job, JobQueue(url)  # migrates a new database

    def job(self, kind, i: int, t: float = 0.0):
        return self.job_class(name=kind.__name__, function=kind, params={"i": i, "t": t})

    async def submit(self, kind, i: int, t: float = 0.0) -> None:
        self.queue.submit(self.job(kind, i, t))

    async def submit_many(self, kind, jobs: int) -> float:
        records = [self.job(kind, i) for i in range(jobs)]
        started = time.perf_counter()
        self.queue.submit_many(records)
        return time.perf_counter() - started

    @contextlib.contextmanager
    def daemon_registered(self):
        """As while gigqd runs: a daemon's record in the database, so that each submit also
        notifies, as pgqueuer's trigger does on every enqueue. No process stands behind it
        (none listens in the other systems' enqueue phase either); it is gone before the drain."""
        from gigq_client.store import DaemonInfo

        now = time.time()
        info = DaemonInfo(id=f"bench-enqueue-{os.getpid()}", host="bench", pid=os.getpid(), pid_started=now,
                          started_at=now, heartbeat_at=now)
        self.queue.store.register_daemon(info, 600.0)
        try:
            yield
        finally:
            self.queue.store.deregister_daemon(info.id)

    async def close(self) -> None:
        self.queue.close()


class PgqueuerClient:
    async def open(self, url: str) -> None:
        import asyncpg
        from pgqueuer.queries import Queries

        self.connection = await asyncpg.connect(url)
        self.queries = Queries.from_asyncpg_connection(self.connection)

    async def init(self) -> None:
        await self.queries.install()

    async def submit(self, kind, i: int, t: float = 0.0) -> None:
        await self.queries.enqueue(kind.__name__, _payload(i, t))

    async def submit_many(self, kind, jobs: int) -> float:
        payloads = [_payload(i, 0.0) for i in range(jobs)]
        started = time.perf_counter()
        await self.queries.enqueue([kind.__name__] * jobs, payloads, [0] * jobs)
        return time.perf_counter() - started

    async def close(self) -> None:
        await self.connection.close()


class ProcrastinateClient:
    async def open(self, url: str) -> None:
        import procrastinate_app  # reads BENCH_PG_URL

        self.app = procrastinate_app.app
        await self.app.open_async()

    async def init(self) -> None:
        await self.app.schema_manager.apply_schema_async()

    async def submit(self, kind, i: int, t: float = 0.0) -> None:
        await self.app.tasks[kind.__name__].defer_async(i=i, t=t)

    async def submit_many(self, kind, jobs: int) -> float:
        arguments = [{"i": i, "t": 0.0} for i in range(jobs)]
        started = time.perf_counter()
        await self.app.tasks[kind.__name__].batch_defer_async(*arguments)
        return time.perf_counter() - started

    async def close(self) -> None:
        await self.app.close_async()


CLIENTS = {"gigqd": GigqdClient, "gigqd-batched": GigqdClient, "pgqueuer": PgqueuerClient,
           "procrastinate": ProcrastinateClient}


def _payload(i: int, t: float) -> bytes:
    return json.dumps({"i": i, "t": t}).encode()


async def enqueue(client, kind, jobs: int) -> dict:
    with getattr(client, "daemon_registered", contextlib.nullcontext)():
        started = time.perf_counter()
        for i in range(jobs):
            await client.submit(kind, i)
        return {"seconds": time.perf_counter() - started}


async def latency(client, kind, jobs: int, interval: float) -> dict:
    began = time.monotonic()
    for i in range(jobs):
        await client.submit(kind, i, time.time())
        await asyncio.sleep(max(0.0, began + (i + 1) * interval - time.monotonic()))
    return {"seconds": time.monotonic() - began}


async def run(args: argparse.Namespace) -> dict:
    import benchjobs

    client = CLIENTS[args.system]()
    await client.open(args.db)
    kind = getattr(benchjobs, args.kind)
    try:
        if args.action == "init":
            if hasattr(client, "init"):
                await client.init()
            return {}
        if args.action == "enqueue":
            return await enqueue(client, kind, args.jobs)
        if args.action == "many":
            return {"seconds": await client.submit_many(kind, args.jobs)}
        return await latency(client, kind, args.jobs, args.interval)
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("system", choices=sorted(CLIENTS))
    parser.add_argument("action", choices=["init", "enqueue", "many", "latency"])
    parser.add_argument("--db", required=True)
    parser.add_argument("--jobs", type=int, default=0)
    parser.add_argument("--kind", default="noop", choices=["noop", "sleep10"])
    parser.add_argument("--interval", type=float, default=0.02)
    print(json.dumps(asyncio.run(run(parser.parse_args()))))


if __name__ == "__main__":
    main()
