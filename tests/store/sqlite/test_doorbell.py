"""SQLite only: a submit sends one datagram to each registered daemon, however many jobs it holds."""

from __future__ import annotations

import socket
import uuid

from gigq_client import Job, JobQueue
from gigq_client.store import DaemonInfo
from tests.jobfuncs import noop


def _count_datagrams(sock: socket.socket) -> int:
    count = 0
    try:
        while True:
            sock.recv(64)
            count += 1
    except BlockingIOError:
        return count


def test_submit_many_rings_each_daemon_once(db_path):
    name = f"gigqd-test-{uuid.uuid4()}"
    bell = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    bell.bind("\0" + name)
    bell.setblocking(False)
    with JobQueue(db_path) as queue:
        queue.store.register_daemon(DaemonInfo(id="d", host="h", pid=1, pid_started=1.0, started_at=1.0,
                                               heartbeat_at=1.0, doorbell_path="@" + name))
        queue.submit_many([Job(f"j{i}", noop) for i in range(500)])
        assert _count_datagrams(bell) == 1
        queue.submit(Job("one", noop))
        assert _count_datagrams(bell) == 1
    bell.close()
