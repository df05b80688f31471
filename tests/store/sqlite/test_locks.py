"""SQLite only: opening one more store on a file keeps the locks this process's other stores hold on it.

Closing any descriptor of a file drops every POSIX lock the process holds on it, so the
client must never open and close the database file itself: a queue whose read lock
was dropped could have its -wal and -shm deleted under it by another process's last
connection, and then read a stale copy of the database until it closed.
"""

from __future__ import annotations

import os
import subprocess
import sys

from gigq_client import Job, JobQueue
from tests.conftest import ROOT

# Another process: a connection that reads and closes (SQLite's last connection checkpoints
# and deletes the -wal and -shm if it can lock the file exclusively), then a job submitted.
OTHER_PROCESS = """
import sqlite3, sys
sys.path.insert(0, sys.argv[2])
conn = sqlite3.connect(sys.argv[1])
conn.execute("SELECT count(*) FROM jobs").fetchone()
conn.close()
from gigq_client import Job, JobQueue
with JobQueue(sys.argv[1]) as queue:
    queue.submit(Job("from-elsewhere", print))
"""


def test_a_second_queue_in_the_process_leaves_the_first_ones_view_current(db_path):
    first = JobQueue(db_path)
    first.submit(Job("here", print))
    assert first.stats()["total"] == 1  # a read: its connection now holds a shared lock on the file
    second = JobQueue(db_path)
    subprocess.run([sys.executable, "-c", OTHER_PROCESS, db_path, str(ROOT)], check=True, timeout=60)
    assert os.path.exists(db_path + "-shm"), "the other process deleted the -shm while our queues had it open"
    assert first.stats()["total"] == 2 and second.stats()["total"] == 2
    first.close()
    second.close()
