"""PostgreSQL only: connections dropped, statements timed out, the server restarted. A
transaction cut short leaves every job as it was; the next call opens a new connection."""

from __future__ import annotations

import threading
from typing import Callable

import psycopg
import pytest

from gigq_client import DatabaseUnavailable, StatementTimeout
from gigq_client.store import DaemonInfo, open_store
from tests.conftest import wait_for
from tests.store.helpers import claim_one, completed, new_job

STATEMENT_TIMEOUT_MS = 300


def _store_backends(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'gigq'")]


def _terminate(url: str, pid: int) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    wait_for(lambda: pid not in _store_backends(url), timeout=10, what=f"backend {pid} to end")


class PausedQueuesLocked:
    """Holds an exclusive lock on paused_queues, which every claim reads: claims wait."""

    def __init__(self, url: str):
        self.url = url
        self.conn = psycopg.connect(url)
        self.conn.execute("LOCK TABLE paused_queues IN ACCESS EXCLUSIVE MODE")

    def waiting_backends(self) -> list[int]:
        with psycopg.connect(self.url) as conn:  # not self.conn: a transaction sees one snapshot of the activity
            return [row[0] for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'gigq' "
                "AND wait_event_type = 'Lock'")]

    def release(self) -> None:
        self.conn.rollback()
        self.conn.close()


def _in_thread(call: Callable[[], object]) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except Exception as error:  # handed to the test to assert on
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_a_connection_the_server_ended_while_idle_is_replaced_unnoticed(postgres_url):
    store = open_store(postgres_url)
    store.enqueue([new_job("x")])
    (pid,) = _store_backends(postgres_url)
    _terminate(postgres_url, pid)
    assert store.stats()["pending"] == 1
    assert _store_backends(postgres_url) != [pid]
    store.close()


def test_a_connection_dropped_in_the_middle_of_finish_and_claim_changes_nothing(postgres_url):
    store = open_store(postgres_url)
    store.enqueue([new_job("a"), new_job("b")])
    first = claim_one(store, "w1")
    lock = PausedQueuesLocked(postgres_url)
    thread, outcome = _in_thread(lambda: store.finish_and_claim([completed(first)], "w1", None, 5))
    (pid,) = wait_for(lock.waiting_backends, timeout=10, what="the claim to wait for the lock")
    _terminate(postgres_url, pid)
    thread.join(timeout=30)
    lock.release()
    assert isinstance(outcome.get("error"), DatabaseUnavailable), outcome
    assert "lost the connection to postgresql://" in str(outcome["error"])
    assert store.get_job(first.job_id)["status"] == "running"  # the completion went with the transaction
    assert store.finish_and_claim([completed(first)], "w1", None, 5)[0] == [True]
    assert store.stats()["running"] == 1 and store.stats()["completed"] == 1
    store.close()


def test_a_claim_past_the_statement_timeout_is_rolled_back_and_the_job_stays_claimable(postgres_url):
    timed = open_store(f"{postgres_url}?options=-c%20statement_timeout%3D{STATEMENT_TIMEOUT_MS}")
    timed.enqueue([new_job("a"), new_job("b")])
    first = claim_one(timed, "w1")
    lock = PausedQueuesLocked(postgres_url)
    try:
        with pytest.raises(StatementTimeout, match="statement timeout"):
            timed.finish_and_claim([completed(first)], "w1", None, 5)
    finally:
        lock.release()
    assert [(j["name"], j["status"]) for j in sorted(timed.list_jobs(None, 10, None), key=lambda j: j["name"])] == [
        ("a", "running"), ("b", "pending")]
    applied, claimed = timed.finish_and_claim([completed(first)], "w1", None, 5)
    assert applied == [True] and [(j.name, j.claim.attempt) for j in claimed] == [("b", 1)]
    timed.close()


def test_while_the_server_restarts_calls_fail_clearly_and_then_carry_on(postgres, postgres_url):
    if postgres.server is None:
        pytest.skip("restarts only the throwaway server this session started")
    store = open_store(postgres_url)
    listener = store.listen_for_jobs("restart-test")
    store.enqueue([new_job("before")])
    postgres.server.stop()
    try:
        with pytest.raises(DatabaseUnavailable, match="^cannot connect to postgresql://.*Connection refused"):
            store.stats()
        assert listener.drain() is True  # it noticed the loss: the caller should look for work when it can
        assert listener.drain() is False  # reconnecting is tried later, and never blocks
    finally:
        postgres.server.start()
    assert store.stats()["pending"] == 1
    assert wait_for(listener.drain, timeout=30, what="the listener to listen again")
    store.register_daemon(DaemonInfo(id="d", host="h", pid=1, pid_started=1.0, started_at=1.0, heartbeat_at=1.0))
    client = open_store(postgres_url)
    client.notify_new_jobs()
    assert wait_for(listener.drain, timeout=10, what="the notification after the restart")
    listener.close()
    store.close()
    client.close()
