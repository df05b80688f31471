"""SQLite only: opening a store file, its migrations, refusals with clear errors, files left untouched."""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest

from gigq_client import GigqError, SchemaVersionError, StoreError
from gigq_client.store import SqliteStore
from gigq_client.store.sqlite.connection import LATEST_VERSION


def test_new_database_is_migrated_to_the_latest_version_in_wal_mode(db_path):
    SqliteStore(db_path).close()
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_new_database_file_is_private_to_its_owner(db_path):
    SqliteStore(db_path).close()
    assert stat.S_IMODE(os.stat(db_path).st_mode) == 0o600


def test_reopening_is_idempotent(db_path):
    SqliteStore(db_path).close()
    SqliteStore(db_path).close()


def test_database_from_a_newer_release_is_refused_and_untouched(db_path):
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    before = open(db_path, "rb").read()
    with pytest.raises(SchemaVersionError, match="999"):
        SqliteStore(db_path)
    assert open(db_path, "rb").read() == before


def test_file_that_is_not_sqlite_is_refused_and_untouched(db_path):
    with open(db_path, "w") as handle:
        handle.write("just some notes, not a database\n" * 10)
    before = open(db_path, "rb").read()
    with pytest.raises(StoreError, match="not a SQLite database"):
        SqliteStore(db_path)
    assert open(db_path, "rb").read() == before
    assert not os.path.exists(db_path + "-wal")


def test_missing_directory_is_refused_with_its_name(tmp_path):
    path = tmp_path / "nowhere" / "jobs.db"
    with pytest.raises(GigqError, match="does not exist"):
        SqliteStore(str(path))
    assert not path.parent.exists()


def test_uninitialised_database_is_refused_without_initialize(db_path):
    with pytest.raises(StoreError, match="does not exist"):
        SqliteStore(db_path, initialize=False)
    sqlite3.connect(db_path).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(StoreError, match="not initialised"):
        SqliteStore(db_path, initialize=False)


def test_unknown_synchronous_level_is_refused(db_path):
    with pytest.raises(StoreError, match="synchronous"):
        SqliteStore(db_path, synchronous="SOMETIMES")


def test_completed_execution_rows_move_onto_their_job_when_migrating_to_5(db_path):
    from gigq_client.store.sqlite import connection

    conn = sqlite3.connect(db_path, isolation_level=None)
    for version, sql in connection.migrations():
        if version <= 4:
            for statement in connection._statements(sql):
                conn.execute(statement)
    conn.execute("PRAGMA user_version = 4")
    conn.execute("INSERT INTO jobs (id, name, function_name, function_module, status, created_at, updated_at, attempts,"
                 " started_at, completed_at, result)"
                 " VALUES ('j', 'n', 'noop', 'tests.jobfuncs', 'completed', 't0', 't2', 2, 't1', 't2', '7')")
    for attempt, status, worker, pid in ((1, "failed", "w1", 11), (2, "completed", "w2", 22)):
        conn.execute("INSERT INTO job_executions (id, job_id, job_rowid, worker_id, status, started_at, attempt, pid,"
                     " error) VALUES (?, 'j', 1, ?, ?, 't1', ?, ?, ?)",
                     (f"e{attempt}", worker, status, attempt, pid, "boom" if status == "failed" else None))
    conn.close()
    runs = SqliteStore(db_path).get_job("j")["executions"]
    assert [(r["status"], r["worker_id"], r["pid"], r["attempt"]) for r in runs] == [
        ("failed", "w1", 11, 1), ("completed", "w2", 22, 2)]
    assert sqlite3.connect(db_path).execute("SELECT count(*) FROM job_executions").fetchone()[0] == 1
