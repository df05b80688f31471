"""Store contract: notify_new_jobs() rings the doorbell that listen_for_jobs() opened."""

from __future__ import annotations

import gc
import os
import resource
import uuid

from gigq_client import fdwait
from gigq_client.store import DaemonInfo, open_store
from tests.store.helpers import new_job


def _listen(store):
    name = f"gigqd-{uuid.uuid4()}"
    listener = store.listen_for_jobs(name)
    store.register_daemon(DaemonInfo(id=name, host="h", pid=1, pid_started=1.0, started_at=1.0, heartbeat_at=1.0,
                                     doorbell_path=listener.address))
    return listener


def _readable(listener, timeout: float) -> bool:
    return fdwait.readable(listener.fileno(), timeout)


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


def test_a_process_holding_over_1024_descriptors_still_submits_claims_and_wakes(store_location):
    """select() refuses descriptors from 1024 up; an application may hold that many files."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))  # 1024 is a common default
    gc.collect()
    gc.disable()  # a collection now would close some earlier test's leftover and free a low number
    held = []
    try:
        held.append(os.open(os.devnull, os.O_RDONLY))
        while held[-1] < 1100:  # every number below 1100 taken: what opens next gets a higher one
            held.append(os.open(os.devnull, os.O_RDONLY))
        store, other = open_store(store_location), open_store(store_location)
        listener = _listen(store)
        try:
            for name in ("first", "second"):  # the second reuses the connections the first opened
                other.enqueue([new_job(name)])
                other.notify_new_jobs()
                assert _readable(listener, timeout=10), "the listener's descriptor never became readable"
                assert listener.drain() is True
                assert [job.name for job in store.claim("w", None, 10)] == [name]
            assert max(listener.fds()) > 1024, "the test meant to run with high descriptor numbers"
        finally:
            listener.close()
            store.close()
            other.close()
    finally:
        for fd in held:
            os.close(fd)
        gc.enable()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_listener_shared_by_fork_passes_a_ring_on_and_a_private_one_ignores_it(store):
    listener = _listen(store)
    try:
        listener.pass_on()
        if listener.shared_by_fork:  # another idle worker waiting on it wakes
            assert _readable(listener, timeout=10) and listener.drain() is True
        else:  # one process listens: there is nobody to pass a ring to
            assert not _readable(listener, timeout=0.2)
        assert listener.drain() is False
    finally:
        listener.close()
