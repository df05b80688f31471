"""SQLite only: the usual job, inserted with literals for the fields it leaves at their
defaults, is stored column for column as the INSERT of every field stores it; batches
that mix usual and other jobs store each as given."""

from __future__ import annotations

import dataclasses
import sqlite3
import time

from gigq_client.store import NewJob, SqliteStore
from gigq_client.store.sqlite import submit

IGNORED = {"id", "created_at", "updated_at"}  # the new id, and the clock at each submit
USUAL = NewJob("a-1", "resize", "tasks", "resize", '{"path": "cat.png"}', priority=3, max_attempts=5,
               timeout=30.5, retry_delay=2, queue="images", created_at="2026-12-03T10:00:00.000000+00:00")


def _columns(db_path: str, job_id: str) -> dict:
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    row = dict(conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone())
    conn.close()
    return {name: value for name, value in row.items() if name not in IGNORED}


def test_a_usual_job_is_stored_as_the_insert_of_every_field_stores_it(db_path):
    store = SqliteStore(db_path)
    store.enqueue([USUAL])
    store.enqueue([dataclasses.replace(USUAL, id="a-2"), dataclasses.replace(USUAL, id="a-3")])
    store.close()
    conn = sqlite3.connect(db_path)
    now = time.time()
    conn.execute(submit._INSERT, submit._row(dataclasses.replace(USUAL, id="full"), now, submit.iso(now)))
    conn.commit()
    conn.close()
    every_field = _columns(db_path, "full")
    assert _columns(db_path, "a-1") == _columns(db_path, "a-3") == every_field
    assert (every_field["dependencies"], every_field["description"], every_field["attempts"]) == ("[]", "", 0)


def test_a_batch_mixing_usual_and_other_jobs_stores_each_as_given(db_path):
    described = dataclasses.replace(USUAL, id="b-2", description="why", run_at=4102444800.0)
    store = SqliteStore(db_path)
    store.enqueue([dataclasses.replace(USUAL, id="b-1"), described, dataclasses.replace(USUAL, id="b-3")])
    assert [store.get_job(job_id)["description"] for job_id in ("b-1", "b-2", "b-3")] == ["", "why", ""]
    store.close()
    stored = _columns(db_path, "b-2")
    assert stored["run_at"].startswith("2100-01-01") and stored["wait_until"] == 4102444800.0
    assert _columns(db_path, "b-1") == _columns(db_path, "b-3")
