"""A database written by GigQ 0.5.1 itself opens here, migrates, and its jobs run on."""

from __future__ import annotations

import sqlite3

import gigq

from gigq_client import JobQueue
from gigq_client.store.sqlite.connection import LATEST_VERSION
from tests import jobfuncs
from tests.store.helpers import claim_one, completed


def _gigq_database(path):
    old = gigq.JobQueue(path)
    parent = gigq.Job("parent", jobfuncs.noop)
    child = gigq.Job("child", jobfuncs.add, params={"a": 1, "b": 2}, dependencies=[parent.id], priority=5)
    done = gigq.Job("done", jobfuncs.noop)
    for job in (parent, child, done):
        old.submit(job)
    gigq.Worker(path).process_one()  # GigQ runs `parent` (highest-priority ready job)
    old.close()
    gigq.close_connections()
    return parent, child, done


def test_gigq_database_migrates_and_keeps_its_jobs(db_path):
    parent, child, done = _gigq_database(db_path)
    queue = JobQueue(db_path)
    assert sqlite3.connect(db_path).execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
    assert queue.get_status(parent.id)["status"] == "completed"
    status = queue.get_status(child.id)
    assert (status["status"], status["params"], status["dependencies"]) == ("pending", {"a": 1, "b": 2}, [parent.id])
    assert queue.stats()["total"] == 3


def test_migrated_dependencies_still_gate_readiness(db_path):
    parent, child, done = _gigq_database(db_path)
    queue = JobQueue(db_path)
    claimed = {job.name for job in queue.store.claim("w", None, 10)}
    assert claimed == {"child", "done"}  # parent completed under GigQ, so child is ready


def test_unfinished_parent_from_gigq_still_blocks_its_child(tmp_path):
    path = str(tmp_path / "old.db")
    old = gigq.JobQueue(path)
    parent = gigq.Job("parent", jobfuncs.noop)
    child = gigq.Job("child", jobfuncs.noop, dependencies=[parent.id])
    old.submit(parent)
    old.submit(child)
    old.close()
    gigq.close_connections()
    queue = JobQueue(path)
    first = claim_one(queue.store)
    assert first.name == "parent" and queue.store.claim("w", None, 5) == []
    queue.store.finish([completed(first)])
    assert claim_one(queue.store).name == "child"
