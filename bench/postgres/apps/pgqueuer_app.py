"""The pgqueuer application bench/postgres_compare.py runs: `pgq run pgqueuer_app:create`, defaults.

asyncpg (pgqueuer's recommended driver) on the database BENCH_PG_URL names. Entrypoints
must be async in pgqueuer 1.x; these call the shared job functions directly, so each
process runs one job at a time, as a gigqd worker does (the 10 ms job's time.sleep holds
the event loop; pgqueuer's own advice for blocking code, asyncio.to_thread, would make
each process a pool of threads, which no other system here gets).
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import AsyncIterator

import asyncpg
from pgqueuer import PgQueuer
from pgqueuer.db import AsyncpgDriver
from pgqueuer.models import Job

import benchjobs


@contextlib.asynccontextmanager
async def create() -> AsyncIterator[PgQueuer]:
    connection = await asyncpg.connect(os.environ["BENCH_PG_URL"])
    pgq = PgQueuer(AsyncpgDriver(connection))

    @pgq.entrypoint("noop")
    async def noop(job: Job) -> None:
        benchjobs.noop(**json.loads(job.payload))

    @pgq.entrypoint("sleep10")
    async def sleep10(job: Job) -> None:
        benchjobs.sleep10(**json.loads(job.payload))

    try:
        yield pgq
    finally:
        await connection.close()
