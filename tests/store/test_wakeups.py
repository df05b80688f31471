"""Store contract: notify_new_jobs() rings the doorbell that listen_for_jobs() opened."""

from __future__ import annotations

import select
import uuid

from gigq_client.store import DaemonInfo
from tests.store.helpers import new_job


def _listen(store):
    name = f"gigqd-{uuid.uuid4()}"
    listener = store.listen_for_jobs(name)
    store.register_daemon(DaemonInfo(id=name, host="h", pid=1, pid_started=1.0, started_at=1.0, heartbeat_at=1.0,
                                     doorbell_path=listener.address))
    return listener


def _readable(listener, timeout: float) -> bool:
    ready, _, _ = select.select([listener], [], [], timeout)
    return bool(ready)


def test_a_notification_from_another_connection_wakes_the_listener(store, other_store):
    listener = _listen(store)
    try:
        assert listener.drain() is False  # nothing yet, and it did not block
        other_store.enqueue([new_job("x")])
        other_store.notify_new_jobs()
        assert _readable(listener, timeout=10), "the listener's descriptor never became readable"
        assert listener.drain() is True
        assert listener.drain() is False
        assert not _readable(listener, timeout=0)
    finally:
        listener.close()


def test_the_listener_keeps_one_descriptor_and_lists_it_for_forked_children(store):
    listener = _listen(store)
    try:
        first = listener.fileno()
        store.notify_new_jobs()
        assert _readable(listener, timeout=10)
        listener.drain()
        assert listener.fileno() == first and first in listener.fds()
    finally:
        listener.close()
    listener.close()  # idempotent


def test_notifying_with_no_daemon_listening_does_nothing_and_never_raises(store):
    store.notify_new_jobs()
    store.notify_new_jobs()
    assert store.daemons() == []


def test_each_daemon_has_its_own_doorbell(store, other_store):
    first, second = _listen(store), _listen(store)
    try:
        other_store.notify_new_jobs()
        assert _readable(first, timeout=10) and _readable(second, timeout=10)
        assert first.drain() and second.drain()
    finally:
        first.close()
        second.close()
