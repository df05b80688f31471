"""PostgreSQL only: migrations in the database, applied once even by processes starting together."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

from gigq_client import SchemaVersionError, StoreError
from gigq_client.store.postgres import PostgresStore
from gigq_client.store.postgres.migrate import LATEST_VERSION, VERSION_TABLE
from tests.conftest import ROOT

OPENER = f"""
import sys
sys.path.insert(0, {ROOT!r})
from gigq_client.store import open_store
sys.stdin.readline()
open_store(sys.argv[1]).close()
"""


def _versions(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute(f"SELECT version FROM {VERSION_TABLE} ORDER BY version")]


def test_an_empty_database_is_migrated_to_the_latest_version(postgres):
    url = postgres.new(migrated=False)
    PostgresStore(url).close()
    assert _versions(url) == list(range(1, LATEST_VERSION + 1))
    PostgresStore(url).close()  # reopening changes nothing
    assert _versions(url) == list(range(1, LATEST_VERSION + 1))


def test_processes_opening_a_new_database_together_migrate_it_once(postgres):
    url = postgres.new(migrated=False)
    openers = [subprocess.Popen([sys.executable, "-c", OPENER, url], stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for _ in range(4)]
    for opener in openers:
        opener.stdin.write("go\n")
        opener.stdin.flush()
    errors = [opener.communicate(timeout=60)[1] for opener in openers]
    assert [opener.returncode for opener in openers] == [0, 0, 0, 0], errors
    assert _versions(url) == list(range(1, LATEST_VERSION + 1))


def test_a_database_from_a_newer_release_is_refused_and_left_untouched(postgres_url):
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"INSERT INTO {VERSION_TABLE} (version) VALUES (999)")
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0]
    with pytest.raises(SchemaVersionError, match="999"):
        PostgresStore(postgres_url)
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == tables
    assert _versions(postgres_url)[-1] == 999


def test_without_initialize_an_empty_database_is_refused_and_left_empty(postgres):
    url = postgres.new(migrated=False)
    with pytest.raises(StoreError, match="not initialised"):
        PostgresStore(url, initialize=False)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 0
    PostgresStore(url).close()
    PostgresStore(url, initialize=False).close()


def test_each_backend_connection_names_itself_gigq(postgres_url):
    store = PostgresStore(postgres_url)
    with psycopg.connect(postgres_url) as conn:
        names = [row[0] for row in conn.execute(
            "SELECT application_name FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()")]
    store.close()
    assert names == ["gigq"]
