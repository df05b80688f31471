"""PostgreSQL only: one NOTIFY per submit however many jobs it holds; a listener cut off listens again."""

from __future__ import annotations

import psycopg

from gigq_client import Job, JobQueue
from gigq_client.store import DaemonInfo, open_store
from gigq_client.store.postgres.listen import CHANNEL
from tests.conftest import wait_for
from tests.jobfuncs import noop

END = "end-of-test"


def _register_a_daemon(url: str) -> None:
    store = open_store(url)
    store.register_daemon(DaemonInfo(id="d", host="h", pid=1, pid_started=1.0, started_at=1.0, heartbeat_at=1.0))
    store.close()


def _notifications_until_the_end(conn: psycopg.Connection) -> list[str]:
    """Every notification on the channel up to END, which the test sends last (they arrive in commit order)."""
    seen = []
    for notification in conn.notifies(timeout=30):
        if notification.payload == END:
            return seen
        seen.append(notification.payload)
    raise AssertionError(f"no {END!r} notification within 30 s; saw {seen}")


def test_submit_many_notifies_once_and_submit_once(postgres_url):
    _register_a_daemon(postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as listening, JobQueue(postgres_url) as queue:
        listening.execute(f"LISTEN {CHANNEL}")
        queue.submit_many([Job(f"j{i}", noop) for i in range(500)])
        queue.submit(Job("one", noop))  # with a daemon registered: one CALL stores it and notifies
        queue.store._conn.execute(f"NOTIFY {CHANNEL}, '{END}'")
        assert _notifications_until_the_end(listening) == ["", ""]
        assert queue.store._one_trip and queue.stats()["pending"] == 501


def test_with_no_daemon_registered_nothing_is_notified(postgres_url):
    with psycopg.connect(postgres_url, autocommit=True) as listening, JobQueue(postgres_url) as queue:
        listening.execute(f"LISTEN {CHANNEL}")
        queue.submit(Job("one", noop))
        queue.store._conn.execute(f"NOTIFY {CHANNEL}, '{END}'")
        assert _notifications_until_the_end(listening) == []


def test_a_listener_whose_connection_was_ended_listens_again(postgres_url):
    _register_a_daemon(postgres_url)
    store = open_store(postgres_url)
    listener = store.listen_for_jobs("d")
    descriptor = listener.fileno()
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = current_database() AND application_name = 'gigq-listener'")
    assert wait_for(listener.drain, timeout=10, what="the listener to notice"), "a lost connection wakes the caller"
    assert wait_for(listener.drain, timeout=30, what="the listener to listen again")
    store.notify_new_jobs()
    assert wait_for(listener.drain, timeout=10, what="a notification on the new connection")
    assert listener.fileno() == descriptor
    listener.close()
    store.close()


def test_where_the_server_refuses_the_submit_procedures_commit_a_submit_takes_two_statements(postgres_url):
    """A procedure with a SET clause may not COMMIT (SQLSTATE 2D000), as behind some
    poolers: the job is still stored, once, and the daemons still woken."""
    _register_a_daemon(postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as listening, JobQueue(postgres_url) as queue:
        listening.execute("ALTER PROCEDURE gigq_submit_one SET work_mem = '4MB'")
        listening.execute(f"LISTEN {CHANNEL}")
        first = queue.submit(Job("refused", noop))
        second = queue.submit(Job("then", noop))
        queue.store._conn.execute(f"NOTIFY {CHANNEL}, '{END}'")
        assert _notifications_until_the_end(listening) == ["", ""]
        assert queue.store._one_trip is False
        statuses = [queue.get_status(job_id)["status"] for job_id in (first, second)]
        assert statuses == ["pending", "pending"] and queue.stats()["pending"] == 2
