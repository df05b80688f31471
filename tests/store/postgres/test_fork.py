"""PostgreSQL only: a forked child never ends its parent's session (psycopg sends the server
a goodbye when a connection is closed, and a child shares its parent's socket)."""

from __future__ import annotations

from gigq_client.store import open_store
from tests.forked import in_child
from tests.store.helpers import new_job


def test_the_parents_session_outlives_a_child_that_used_the_store(postgres_url):
    store = open_store(postgres_url)
    store.enqueue([new_job("x")])
    session = store._conn.info.backend_pid

    def child() -> str:
        store.stats()  # drops the inherited connection and opens its own
        store.close()
        return str(store._conn.info.backend_pid)

    child_session = in_child(child)
    assert child_session.isdigit() and int(child_session) != session
    assert store._conn.info.backend_pid == session  # the same session, not a reconnection
    assert store.stats()["pending"] == 1
    store.close()
