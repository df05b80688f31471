"""Claim cost with 1,000 and with 1,000,000 pending jobs: it should stay flat.

    python bench/claim_cost.py [--sizes 1000,1000000] [--claims 2000] [--db postgresql://...]

Fills a fresh database with N pending jobs (mixed priorities, two queues), then
times single-job claims (at most a quarter of N per case, so the depth barely
moves), each its own transaction as a worker makes on a shallow queue, and
completes each one outside the timing. A few untimed claims warm the process
first, and the two cases (all queues, one queue) take turns in five rounds, so
neither is measured only while the machine is busy. Prints microseconds per claim.

With --db URL it measures a PostgreSQL store instead: the database must hold no
jobs; it is filled up to each size in turn (sizes ascending) and keeps the jobs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gigq_client.store import COMPLETED, NewJob, Outcome, Store, open_store  # noqa: E402

CHUNK = 20_000
WARM_UP_CLAIMS = 25
ROUNDS = 5


def fill(store: Store, count: int, already: int = 0) -> float:
    started = time.perf_counter()
    for first in range(already, count, CHUNK):
        store.enqueue([
            NewJob(id=str(uuid.uuid4()), name="bench", module="bench", function="noop", params="{}",
                   priority=n % 7, queue="default" if n % 2 else "other")
            for n in range(first, min(count, first + CHUNK))
        ])
    return time.perf_counter() - started


def time_claims(store: Store, claims: int, queues) -> list[float]:
    samples = []
    for _ in range(claims):
        started = time.perf_counter()
        (job,) = store.claim("bench-worker", queues, 1)
        samples.append(time.perf_counter() - started)
        now = time.time()
        store.finish([Outcome(job.claim, COMPLETED, started=now, finished=now, result="null")])
    return samples


def measure(store: Store, size: int, fill_seconds: float, claims: int) -> dict:
    row = {"pending": size, "fill_s": fill_seconds}
    count = min(claims, size // 4)  # never drain the queue we are measuring
    time_claims(store, WARM_UP_CLAIMS, None)
    cases = {"all queues": None, "one queue": ["default"]}
    samples: dict = {label: [] for label in cases}
    for _ in range(ROUNDS):
        for label, queues in cases.items():
            samples[label] += time_claims(store, max(1, count // ROUNDS), queues)
    for label, taken in samples.items():
        taken.sort()
        row[label] = (statistics.median(taken) * 1e6, taken[int(len(taken) * 0.99)] * 1e6)
    return row


def on_sqlite(sizes: list[int], claims: int) -> list[dict]:
    """Each size in a fresh database file."""
    rows = []
    for size in sizes:
        with tempfile.TemporaryDirectory() as folder:
            store = open_store(os.path.join(folder, "bench.db"))
            rows.append(measure(store, size, fill(store, size), claims))
            store.close()
    return rows


def on_database(url: str, sizes: list[int], claims: int) -> list[dict]:
    """One database filled up to each size in turn: claims complete jobs, so what stays pending is the size."""
    store = open_store(url)
    if store.stats()["total"]:
        sys.exit(f"{store!r} already holds jobs: give --db an empty database")
    rows, pending, seconds = [], 0, 0.0
    for size in sorted(sizes):
        seconds += fill(store, size, already=pending)
        pending = size
        rows.append(measure(store, size, seconds, claims))
    store.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,1000000")
    parser.add_argument("--claims", type=int, default=250)
    parser.add_argument("--db", help="a postgresql:// URL of an empty database (default: SQLite files)")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    rows = on_database(args.db, sizes, args.claims) if args.db else on_sqlite(sizes, args.claims)
    backend = "PostgreSQL" if args.db else "SQLite"
    print(f"{backend} claim cost, {args.claims} single-job claims per case (median / p99 microseconds)")
    print(f"{'pending jobs':>14} | {'all queues':>18} | {'one queue':>18} | fill time")
    for row in rows:
        cells = [f"{row[k][0]:7.1f} / {row[k][1]:7.1f}" for k in ("all queues", "one queue")]
        print(f"{row['pending']:>14,} | {cells[0]:>18} | {cells[1]:>18} | {row['fill_s']:.1f} s")
    base, deep = rows[0], rows[-1]
    for key in ("all queues", "one queue"):
        print(f"ratio {deep['pending']:,} / {base['pending']:,} pending ({key}): {deep[key][0] / base[key][0]:.2f}x")


if __name__ == "__main__":
    main()
