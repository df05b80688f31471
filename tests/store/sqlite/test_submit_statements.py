"""SQLite only: a usual job submitted on its own (the INSERT with literals) is stored
column for column as the same job submitted in a batch (the INSERT of every field)."""

from __future__ import annotations

import dataclasses
import sqlite3

from gigq_client.store import NewJob, SqliteStore

IGNORED = {"id", "created_at", "updated_at"}  # the new id, and the clock at each submit


def _columns(db_path: str, job_id: str) -> dict:
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    row = dict(conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone())
    conn.close()
    return {name: value for name, value in row.items() if name not in IGNORED}


def test_a_usual_job_alone_is_stored_as_in_a_batch(db_path):
    store = SqliteStore(db_path)
    usual = NewJob("a-1", "resize", "tasks", "resize", '{"path": "cat.png"}', priority=3, max_attempts=5,
                   timeout=30.5, retry_delay=2, queue="images", created_at="2026-12-03T10:00:00.000000+00:00")
    store.enqueue([usual])  # alone: the short INSERT
    store.enqueue([dataclasses.replace(usual, id="b-1"), dataclasses.replace(usual, id="b-2")])  # executemany
    alone, batched = _columns(db_path, "a-1"), _columns(db_path, "b-1")
    assert alone == batched
    assert (alone["dependencies"], alone["description"], alone["status"], alone["attempts"]) == ("[]", "", "pending", 0)
    store.close()


def test_a_job_with_a_description_or_run_at_alone_keeps_them(db_path):
    store = SqliteStore(db_path)
    store.enqueue([NewJob("c-1", "n", "tasks", "f", "{}", description="why", run_at=4102444800.0)])
    stored = _columns(db_path, "c-1")
    assert stored["description"] == "why" and stored["run_at"].startswith("2100-01-01") and stored["wait_until"]
    store.close()
