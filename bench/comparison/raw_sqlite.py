"""The raw SQLite per-commit ceiling: a bare queue loop with one transaction per operation.

WAL, synchronous=NORMAL, BEGIN IMMEDIATE for every insert, claim and complete, one
process. A job costs three commits (insert + claim + complete); the "cycle" rate is
jobs/s for all three.
"""

from __future__ import annotations

import os
import sqlite3
import time

CLAIM = ("UPDATE jobs SET state = 1 WHERE id = "
         "(SELECT id FROM jobs WHERE state = 0 ORDER BY id LIMIT 1) RETURNING id")


def _open(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)  # we issue BEGIN / COMMIT ourselves
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE jobs (id INTEGER PRIMARY KEY, state INTEGER NOT NULL, payload TEXT NOT NULL)")
    conn.execute("CREATE INDEX jobs_state_id ON jobs (state, id)")
    return conn


def _in_transaction(conn: sqlite3.Connection, sql: str, args: tuple = ()) -> list:
    conn.execute("BEGIN IMMEDIATE")
    rows = conn.execute(sql, args).fetchall()
    conn.execute("COMMIT")
    return rows


def measure(folder: str, jobs: int) -> dict:
    conn = _open(os.path.join(folder, "raw.db"))
    try:
        started = time.perf_counter()
        for i in range(jobs):
            _in_transaction(conn, "INSERT INTO jobs (state, payload) VALUES (0, ?)", (f'{{"i": {i}}}',))
        inserted = time.perf_counter()
        for _ in range(jobs):
            ((job_id,),) = _in_transaction(conn, CLAIM)
            _in_transaction(conn, "UPDATE jobs SET state = 2 WHERE id = ?", (job_id,))
        finished = time.perf_counter()
    finally:
        conn.close()
    return {
        "insert_per_s": jobs / (inserted - started),
        "claim_complete_per_s": jobs / (finished - inserted),
        "cycle_per_s": jobs / (finished - started),
    }
