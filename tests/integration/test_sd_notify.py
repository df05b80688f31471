"""gigqd speaks sd_notify to a real datagram socket standing in for systemd."""

from __future__ import annotations

import signal
import socket
import struct
import time

import pytest

from tests.conftest import wait_for


class FakeSystemd:
    """Receives notify datagrams with the sender's credentials, as systemd does."""

    def __init__(self, path: str):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.setblocking(False)
        self.messages: list[tuple[int, dict[str, str]]] = []  # (sender pid, fields)

    def drain(self) -> list[tuple[int, dict[str, str]]]:
        while True:
            try:
                data, ancillary, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
            except BlockingIOError:
                return self.messages
            pid = next((struct.unpack("iII", cdata)[0] for level, kind, cdata in ancillary
                        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS), -1)
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            self.messages.append((pid, fields))

    def variables(self) -> list[str]:
        return [key for _, fields in self.drain() for key in fields]


@pytest.fixture
def systemd(tmp_path):
    fake = FakeSystemd(str(tmp_path / "notify.sock"))
    yield fake
    fake.sock.close()


def test_ready_watchdog_reloading_and_stopping_come_from_the_supervisor(make_daemon, systemd, tmp_path):
    daemon = make_daemon(workers=2)
    daemon.start(env={"NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "400000"})
    ready = wait_for(lambda: [f for _, f in systemd.drain() if f.get("READY") == "1"], what="READY=1")
    assert "2/2 workers" in ready[0]["STATUS"]
    wait_for(lambda: systemd.variables().count("WATCHDOG") >= 3, what="watchdog pings every 0.2 s")
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: "RELOADING" in systemd.variables() and [f for _, f in systemd.drain() if "READY" in f][1:],
             what="RELOADING=1 then READY=1")
    reloading = next(f for _, f in systemd.drain() if "RELOADING" in f)
    assert abs(int(reloading["MONOTONIC_USEC"]) / 1e6 - time.monotonic()) < 30
    assert daemon.stop() == 0
    assert "STOPPING" in systemd.variables()
    senders = {pid for pid, _ in systemd.drain()}
    assert senders == {daemon.process.pid}  # never a worker


def test_without_notify_socket_nothing_is_sent(make_daemon, systemd):
    daemon = make_daemon(workers=1).start()
    daemon.stop()
    assert systemd.drain() == []
