"""SQLite only: workers copy the WAL back outside the write turn once its backlog has grown.

SQLite's own checkpoint runs inside the commit that pushes the WAL past
wal_autocheckpoint pages, holding the write lock meanwhile; a worker asks
checkpoint_due() after each job and copies the WAL itself when it is.
"""

from __future__ import annotations

import os
import subprocess
import sys

from gigq_client import Job, JobQueue
from gigq_client.store import SqliteStore
from gigq_client.store.sqlite.store import CHECKPOINT_BACKLOG_FRAMES
from gigq_client.store.sqlite.walindex import RECHECK_EVERY, WalIndex
from tests.conftest import ROOT
from tests.store.sqlite.test_locks import OTHER_PROCESS


def test_the_backlog_read_from_the_wal_index_grows_with_commits_and_empties_with_a_checkpoint(db_path):
    store = SqliteStore(db_path)
    store.checkpoint()
    assert WalIndex(db_path).backlog() == 0
    assert not store.checkpoint_due()
    queue = JobQueue(db_path)
    for number in range(1000):  # about 3.4 pages each
        queue.submit(Job("j", print, params={"n": number}))
    backlog = WalIndex(db_path).backlog()
    assert backlog >= CHECKPOINT_BACKLOG_FRAMES, backlog
    assert store.checkpoint_due()
    store.checkpoint()
    assert WalIndex(db_path).backlog() == 0
    assert not store.checkpoint_due()
    queue.close()
    store.close()


def test_no_wal_index_yet_means_nothing_is_due(tmp_path):
    assert WalIndex(str(tmp_path / "none.db")).backlog() is None


def test_asking_whether_a_checkpoint_is_due_never_drops_the_locks_of_other_stores_in_the_process(db_path):
    """The WAL index is opened once per process and never closed: closing a descriptor
    would drop every POSIX lock this process holds on the file, SQLite's included."""
    first = JobQueue(db_path)
    first.submit(Job("here", print))
    assert first.stats()["total"] == 1  # its connection now holds its locks on the WAL index
    asker = SqliteStore(db_path)
    asker.checkpoint_due()
    asker.close()
    subprocess.run([sys.executable, "-c", OTHER_PROCESS, db_path, str(ROOT)], check=True, timeout=60)
    assert os.path.exists(db_path + "-shm"), "another process deleted the WAL index while a queue here had it open"
    assert first.stats()["total"] == 2
    first.close()


def test_a_wal_index_made_again_after_every_connection_closed_is_followed(db_path):
    store = SqliteStore(db_path)
    store.checkpoint_due()  # opens the first WAL index
    store.close()
    assert not os.path.exists(db_path + "-shm")  # the last connection deleted it
    queue = JobQueue(db_path)
    for number in range(1000):
        queue.submit(Job("j", print, params={"n": number}))
    again = SqliteStore(db_path)
    answers = [again.checkpoint_due() for _ in range(RECHECK_EVERY)]
    assert answers[-1], "still reading the deleted WAL index"  # the new file's backlog, not the deleted one's
    again.checkpoint()
    assert WalIndex(db_path).backlog() == 0
    again.close()
    queue.close()
