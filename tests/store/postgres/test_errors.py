"""PostgreSQL only: each way of failing to reach the database is one clear line, never a password."""

from __future__ import annotations

import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from gigq_client import (
    AccessDenied,
    DatabaseNotFound,
    DatabaseUnavailable,
    GigqError,
    JobQueue,
    StoreError,
)
from gigq_client.store import describe_location
from tests.conftest import ROOT

SECRET = "s3cret-Pa55"


@pytest.fixture
def server(postgres):
    if postgres.server is None:
        pytest.skip("needs the throwaway server, whose password rules the test knows")
    return postgres.server


@pytest.fixture
def alice(postgres, server) -> str:
    """A role that logs in with the password SECRET; returns the server's host:port."""
    with postgres.admin() as conn:
        conn.execute("DROP ROLE IF EXISTS alice")
        conn.execute(f"CREATE ROLE alice LOGIN PASSWORD '{SECRET}'")
    yield f"127.0.0.1:{server.port}"
    with postgres.admin() as conn:
        conn.execute("DROP ROLE IF EXISTS alice")


def _refusal(url: str) -> GigqError:
    with pytest.raises(GigqError) as raised:
        JobQueue(url)
    message = str(raised.value)
    assert "\n" not in message and SECRET not in message and "wrong-password" not in message
    return raised.value


def test_a_wrong_password_names_the_user_and_never_the_password(alice):
    error = _refusal(f"postgresql://alice:wrong-password@{alice}/postgres")
    assert isinstance(error, AccessDenied)
    assert str(error) == (f"cannot connect to postgresql://alice@{alice}/postgres: "
                          'password authentication failed for user "alice"')


def test_a_missing_password_says_so(alice):
    error = _refusal(f"postgresql://alice@{alice}/postgres")
    assert isinstance(error, AccessDenied) and "no password supplied" in str(error)


def test_a_missing_database_is_named(alice):
    error = _refusal(f"postgresql://alice:{SECRET}@{alice}/no_such_db")
    assert isinstance(error, DatabaseNotFound)
    assert str(error) == (f'cannot connect to postgresql://alice@{alice}/no_such_db: '
                          'database "no_such_db" does not exist')


def test_a_server_that_is_not_there_is_unavailable(postgres, free_port):
    error = _refusal(f"postgresql://gigq:{SECRET}@127.0.0.1:{free_port}/jobs")
    assert isinstance(error, DatabaseUnavailable)
    assert str(error).startswith(f"cannot connect to postgresql://gigq@127.0.0.1:{free_port}/jobs: Connection refused")


def test_a_malformed_url_is_refused_as_such():
    error = _refusal(f"postgresql://gigq:{SECRET}@localhost/jobs?no_such_option=1")
    assert type(error) is StoreError and "not a valid PostgreSQL URL" in str(error)
    assert str(error).startswith("cannot connect to postgresql://")


def test_without_the_driver_a_url_says_what_to_install(postgres_url, db_path):
    script = f"""
import sys
sys.path.insert(0, {ROOT!r})
sys.modules["psycopg"] = None  # as if the extra were not installed
from gigq_client import JobQueue, DriverMissing
JobQueue({db_path!r}).close()  # SQLite needs no driver
try:
    JobQueue({postgres_url!r})
except DriverMissing as error:
    print(error)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "a postgresql:// URL needs the PostgreSQL driver (psycopg 3): pip install 'gigqd[postgres]'")


def test_the_sqlite_store_never_imports_the_driver(db_path):
    script = f"""
import sys
sys.path.insert(0, {ROOT!r})
from gigq_client import Job, JobQueue
from tests.jobfuncs import noop
JobQueue({db_path!r}).submit(Job("x", noop))
print("psycopg" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr


def test_the_url_printed_keeps_user_host_port_and_database_only(postgres_url):
    parts = urlsplit(postgres_url)
    with JobQueue(postgres_url.replace("@", f":{SECRET}@", 1) if "@" in postgres_url else postgres_url) as queue:
        assert SECRET not in repr(queue)
        assert repr(queue) == f"JobQueue('postgresql://{parts.username}@{parts.hostname}:{parts.port}{parts.path}')"


def test_a_location_is_described_without_its_password():
    assert describe_location(f"postgres://gigq:{SECRET}@db.example.com:6432/jobs?sslmode=require") == (
        "postgresql://gigq@db.example.com:6432/jobs")
    assert describe_location(f"postgresql://gigq@/jobs?host=/run/postgresql&password={SECRET}") == (
        "postgresql://gigq@/run/postgresql:5432/jobs")
    assert describe_location("/var/lib/gigq/jobs.db") == "/var/lib/gigq/jobs.db"


def test_a_listener_that_cannot_connect_at_start_says_why(free_port):
    from gigq_client.store.postgres.listen import PostgresListener

    with pytest.raises(DatabaseUnavailable) as raised:
        PostgresListener(f"postgresql://gigq:{SECRET}@127.0.0.1:{free_port}/jobs", connect_timeout=5)
    assert str(raised.value).startswith(f"cannot connect to postgresql://gigq@127.0.0.1:{free_port}/jobs: ")
    assert "refused" in str(raised.value) and SECRET not in str(raised.value)
