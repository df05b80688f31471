"""What a pause costs the next commit: why 10 ms jobs cannot reach 97 % here.

    python bench/cold_commit.py [--commits 300] [--rounds 2]

Times a one-row SQLite UPDATE in its own transaction right after a pause: none
(back to back), 1 ms and 10 ms of busy-waiting in the same process, and a 10 ms
sleep. Once on a database in memory (no file, no system call in the commit) and
once on a WAL file like gigq's, in a temporary folder. No gigq code runs: this is
the machine's part of the gap a worker leaves between two 10 ms jobs, which has
to commit one outcome after each (docs/benchmarks.md, "Where the time goes").
Prints the median microseconds per commit for each case, the cases in turns.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import time


def _busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


PAUSES = {
    "back to back": lambda: None,
    "busy 1 ms": lambda: _busy(0.001),
    "busy 10 ms": lambda: _busy(0.010),
    "sleep 10 ms": lambda: time.sleep(0.010),
}


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    if path != ":memory:":
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    conn.execute("INSERT INTO t VALUES (1, '')")
    return conn


def commit_after(conn: sqlite3.Connection, pause, commits: int) -> float:
    """Median µs of one commit right after `pause()`."""
    took = []
    for i in range(commits):
        pause()
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE t SET v = ? WHERE id = 1", (str(i),))
        conn.execute("COMMIT")
        took.append(time.perf_counter() - start)
    return 1e6 * statistics.median(took)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=300, help="commits per case and round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds; the cases take turns in each")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        stores = {"in memory": _connect(":memory:"), "WAL file": _connect(os.path.join(folder, "cold.db"))}
        results = {(store, pause): [] for store in stores for pause in PAUSES}
        for _ in range(args.rounds):
            for store, conn in stores.items():
                for pause, wait in PAUSES.items():
                    results[store, pause].append(commit_after(conn, wait, args.commits))
        for conn in stores.values():
            conn.close()
    print(f"{'database':<10} " + " ".join(f"{pause:>14}" for pause in PAUSES) + "   (median µs per commit, per round)")
    for store in stores:
        cells = [" / ".join(f"{v:.0f}" for v in results[store, pause]) for pause in PAUSES]
        print(f"{store:<10} " + " ".join(f"{cell:>14}" for cell in cells))


if __name__ == "__main__":
    main()
