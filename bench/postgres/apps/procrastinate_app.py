"""The procrastinate application bench/postgres_compare.py runs: `procrastinate worker`, defaults.

PsycopgConnector (procrastinate's default, psycopg 3 with a pool) on the database
BENCH_PG_URL names. The tasks are plain functions, which procrastinate runs in a thread,
one at a time with the worker's default concurrency of 1.
"""

from __future__ import annotations

import os

import procrastinate

import benchjobs

app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=os.environ["BENCH_PG_URL"]))


@app.task(name="noop")
def noop(i: int = 0, t: float = 0.0) -> None:
    benchjobs.noop(i=i, t=t)


@app.task(name="sleep10")
def sleep10(i: int = 0, t: float = 0.0) -> None:
    benchjobs.sleep10(i=i, t=t)
